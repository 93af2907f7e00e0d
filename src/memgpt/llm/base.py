"""The one small protocol every model backend implements.

A backend turns a list of provider-neutral chat messages plus function schemas
into one `LLMReply`. It does not parse or validate the call: malformed output is
the agent loop's business (DESIGN invariant 5), so backends pass it through raw.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field, model_validator

from memgpt.errors import MemGPTError
from memgpt.schemas import LLMConfig, ToolCall, storable_arguments, storable_text


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None


class LLMReply(BaseModel):
    """What the model said: free text (if any) and the function calls it asked for."""

    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: str | None = None
    prompt_tokens: int | None = None  # all of the prompt, cached part included
    completion_tokens: int | None = None
    cached_prompt_tokens: int | None = None  # the part of the prompt read from a cache

    @model_validator(mode="after")
    def _valid_unicode(self) -> LLMReply:
        # JSON lets a server send half a surrogate pair ("\\ud83d") or a NUL; such text
        # cannot be stored, so it would fail the step's commit. It becomes U+FFFD instead.
        if self.content is not None:
            self.content = storable_text(self.content)
        self.tool_calls = [
            c.model_copy(
                update={
                    "id": storable_text(c.id),
                    "name": storable_text(c.name),
                    "arguments": storable_arguments(c.arguments),
                }
            )
            for c in self.tool_calls
        ]
        return self


class LLMError(MemGPTError):
    """The backend could not produce a reply (network, auth, rate limit after retries...).

    The message is one sentence a user can act on.
    """


def output_limit(config: LLMConfig, max_tokens: int | None) -> int:
    """The most tokens a reply may take: the config's budget, or less where a caller asks."""
    return (
        config.max_output_tokens
        if max_tokens is None
        else min(max_tokens, config.max_output_tokens)
    )


def leading_system(messages: list[ChatMessage]) -> tuple[list[str], list[ChatMessage]]:
    """The texts of the system messages `messages` opens with (main context has two: the
    instructions, then working context and summary), and the messages after them."""
    n = next((i for i, m in enumerate(messages) if m.role != "system"), len(messages))
    return [m.content for m in messages[:n]], messages[n:]


FunctionSchema = dict[str, Any]
"""{"name": ..., "description": ..., "parameters": <JSON schema object>}"""


@runtime_checkable
class LLMClient(Protocol):
    config: LLMConfig

    def chat(
        self,
        messages: list[ChatMessage],
        functions: list[FunctionSchema],
        *,
        cache_key: str | None = None,
        max_tokens: int | None = None,
    ) -> LLMReply:
        """One completion. With `functions`, the model must answer with one function call;
        with none (the summarizer), it answers in plain text. `cache_key` names whose
        prompts these are (an agent's id), for providers that route by it to their cache.
        `max_tokens` caps this reply below the config's `max_output_tokens`."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` for this model: its own tokenizer, or a safe upper bound."""
        ...
