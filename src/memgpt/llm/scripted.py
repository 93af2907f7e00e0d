"""A scripted backend for tests and demos: replays replies or asks a policy function.

It is a real `LLMClient`, so the agent loop runs unchanged; only the model's
choices are scripted. Summarizer calls (no functions offered) go to `summarize`,
so a script of function calls is not consumed by them.
"""

from __future__ import annotations

import importlib
import itertools
import json
from collections.abc import Callable, Iterable

from memgpt.llm.base import ChatMessage, FunctionSchema, LLMError, LLMReply
from memgpt.llm.tokens import estimate_tokens
from memgpt.schemas import LLMConfig, ToolCall

Policy = Callable[[list[ChatMessage], list[FunctionSchema]], LLMReply]

_call_ids = itertools.count(1)


def call(name: str, inner_thoughts: str = "", **arguments: object) -> LLMReply:
    """A reply that calls `name` with `arguments` (inner monologue included)."""
    args = {"inner_thoughts": inner_thoughts, **arguments}
    return raw_call(name, json.dumps(args))


def raw_call(name: str, arguments: str) -> LLMReply:
    """A reply whose argument text is exactly `arguments`, valid JSON or not."""
    return LLMReply(
        tool_calls=[ToolCall(id=f"call-{next(_call_ids)}", name=name, arguments=arguments)]
    )


def default_summary(messages: list[ChatMessage]) -> str:
    """A short deterministic summary: the gist of what the summarizer was given."""
    transcript = messages[-1].content if messages else ""
    return "Summary of earlier conversation: " + " ".join(transcript.split())[:300]


class ScriptedLLM:
    def __init__(
        self,
        script: Iterable[LLMReply] | Policy,
        *,
        context_window: int = 8192,
        summarize: Callable[[list[ChatMessage]], str] = default_summary,
        record: bool = True,
    ):
        self.config = LLMConfig(
            provider="scripted", model="scripted", context_window=context_window
        )
        self._policy: Policy | None = script if callable(script) else None
        self._replies = iter(()) if callable(script) else iter(list(script))
        self._summarize = summarize
        self._record = record
        self.requests: list[tuple[list[ChatMessage], list[FunctionSchema]]] = []  # when recording

    @classmethod
    def from_config(cls, config: LLMConfig) -> ScriptedLLM:
        """`config.model` names a policy as "package.module:function"."""
        module_name, _, attr = config.model.partition(":")
        try:
            policy = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError, ValueError) as exc:
            raise LLMError(
                f"Cannot load the scripted policy {config.model!r}; give it as 'module:function'."
            ) from exc
        # Named in a config, it serves a long-lived agent (the server's, say) whose requests
        # no one reads: recording them would grow the process by every request it answers.
        llm = cls(policy, context_window=config.context_window, record=False)
        llm.config = config  # keep the policy's name, so a stored agent can be reopened
        return llm

    def chat(
        self,
        messages: list[ChatMessage],
        functions: list[FunctionSchema],
        *,
        cache_key: str | None = None,
        max_tokens: int | None = None,  # a scripted reply is as long as it was written
    ) -> LLMReply:
        if self._record:
            self.requests.append((messages, functions))
        if not functions:
            return LLMReply(content=self._summarize(messages))
        if self._policy is not None:
            return self._policy(messages, functions)
        try:
            return next(self._replies)
        except StopIteration:
            raise LLMError("The scripted model has no replies left.") from None

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)
