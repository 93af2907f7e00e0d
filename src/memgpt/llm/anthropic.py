"""Anthropic's Messages API with native tool use.

Our provider-neutral history maps onto it like this: system messages become the
`system` parameter's blocks; an assistant's function calls become `tool_use` blocks; our
"tool" messages become `tool_result` blocks in a user turn; consecutive turns of
the same role are merged, because the API wants user and assistant to alternate.
"""

from __future__ import annotations

import json
import re
from typing import Any

import anthropic
import httpx

from memgpt.llm import (
    connection_error_message,
    is_official,
    resolve_api_key,
    short,
    status_error_message,
    where,
)
from memgpt.llm.base import ChatMessage, FunctionSchema, LLMError, LLMReply, output_limit
from memgpt.llm.streaming import THOUGHTS, FieldStream, OnDelta, watched_fields
from memgpt.llm.tokens import estimate_tokens
from memgpt.schemas import LLMConfig, ToolCall

ANTHROPIC_HOST = "api.anthropic.com"
ANTHROPIC_BASE_URL = f"https://{ANTHROPIC_HOST}"
DEFAULT_KEY_ENV = "ANTHROPIC_API_KEY"
PLACEHOLDER_KEY = "no-key-needed"
# The API wants the conversation to open with a user turn; a queue whose oldest
# messages were evicted can open with an assistant turn instead.
OPENING_USER_TURN = "(The conversation so far follows.)"
# A cache breakpoint: the prompt up to and including the block that carries it is cached.
EPHEMERAL = {"type": "ephemeral"}


class AnthropicChat:
    def __init__(self, config: LLMConfig, *, max_retries: int = 2):
        self.config = config
        self.max_retries = max_retries
        # Explicit, so that ANTHROPIC_BASE_URL in the environment cannot silently redirect us.
        self.base_url = config.base_url or ANTHROPIC_BASE_URL
        self.key_env = config.api_key_env or (
            DEFAULT_KEY_ENV if is_official(config, ANTHROPIC_HOST) else None
        )
        self._client: anthropic.Anthropic | None = None
        self._key_missing = False

    def count_tokens(self, text: str) -> int:
        # Claude's tokenizer is not available offline (and tiktoken's is not a bound for it).
        return estimate_tokens(text)

    streams = True  # `chat` takes on_delta

    def chat(
        self,
        messages: list[ChatMessage],
        functions: list[FunctionSchema],
        on_delta: OnDelta | None = None,
        *,
        cache_key: str | None = None,  # Anthropic caches by breakpoints, not by key
        max_tokens: int | None = None,
    ) -> LLMReply:
        """One completion; with `on_delta`, streamed, its text handed on as it arrives."""
        system, turns = to_anthropic(messages)
        request: dict[str, Any] = {
            "model": self.config.model,
            "max_tokens": output_limit(self.config, max_tokens),
            "messages": turns,
        }
        if system:
            request["system"] = system
        if self.config.temperature is not None:
            request["temperature"] = self.config.temperature
        if functions:
            request["tools"] = [
                {
                    "name": f["name"],
                    "description": f.get("description", ""),
                    "input_schema": f.get("parameters") or {"type": "object", "properties": {}},
                }
                for f in functions
            ]
            request["tool_choice"] = {"type": "any"}
        try:
            if on_delta is not None:
                events = self._get_client().messages.create(**request, stream=True)
                reply = _streamed_reply(events, on_delta)
                if reply.finish_reason is None:  # the server closed it before the end
                    raise LLMError(
                        f"The stream from {where(self.config, self.base_url)} broke off before "
                        "the reply was complete: try again."
                    )
                return reply
            response = self._get_client().messages.create(**request)
        except anthropic.APITimeoutError as e:
            raise LLMError(self._connection_error(timed_out=True)) from e
        except anthropic.APIConnectionError as e:
            raise LLMError(self._connection_error(timed_out=False)) from e
        except anthropic.APIStatusError as e:
            raise LLMError(
                status_error_message(
                    e.status_code,
                    url=where(self.config, self.base_url),
                    model=self.config.model,
                    key_env=self.key_env,
                    key_missing=self._key_missing,
                    retries=self.max_retries,
                    detail=_detail(e),
                )
            ) from e
        except httpx.HTTPError as e:  # a stream cut off after it began
            raise LLMError(
                f"The stream from {where(self.config, self.base_url)} broke off "
                f"({short(str(e)) or type(e).__name__}): try again."
            ) from e
        except (anthropic.APIError, ValueError) as e:
            # ValueError: the SDK decodes the body with json.loads, which raises
            # JSONDecodeError or UnicodeDecodeError for garbled bytes
            raise LLMError(
                f"The server at {where(self.config, self.base_url)} sent an unusable answer "
                f"({short(str(e))})."
            ) from e
        return _reply(response)

    def _get_client(self) -> anthropic.Anthropic:
        # Created on first use, so that counting tokens never needs a key.
        if self._client is None:
            key = resolve_api_key(self.config, DEFAULT_KEY_ENV, ANTHROPIC_HOST)
            self._key_missing = key is None
            self._client = anthropic.Anthropic(
                api_key=key or PLACEHOLDER_KEY,
                base_url=self.base_url,
                timeout=self.config.timeout_s,
                max_retries=self.max_retries,
            )
        return self._client

    def _connection_error(self, *, timed_out: bool) -> str:
        return connection_error_message(
            where(self.config, self.base_url),
            timed_out=timed_out,
            timeout_s=self.config.timeout_s,
            retries=self.max_retries,
        )


def to_anthropic(messages: list[ChatMessage]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system blocks, alternating user/assistant turns of content blocks) for `messages`,
    with cache breakpoints after the instructions (the tools come before them), after the
    working context and after everything but the newest message (main context's layout)."""
    system = [{"type": "text", "text": m.content} for m in messages if m.role == "system"]
    system = [b for b in system if b["text"]]  # the API rejects empty text blocks
    if system:
        system[0]["cache_control"] = system[-1]["cache_control"] = EPHEMERAL
    turns: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        if m.role == "system":
            continue
        role, blocks = _blocks(m)
        if not blocks:
            continue  # the API rejects empty turns and empty text blocks
        if i == len(messages) - 2:
            blocks[-1]["cache_control"] = EPHEMERAL
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        if turn["role"] == "user":
            # The API wants tool results ahead of any text in a user turn.
            turn["content"].sort(key=lambda b: b["type"] != "tool_result")
    if turns and turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": [{"type": "text", "text": OPENING_USER_TURN}]})
    return system, turns


def _blocks(m: ChatMessage) -> tuple[str, list[dict[str, Any]]]:
    if m.role == "tool":
        result = {
            "type": "tool_result",
            "tool_use_id": _tool_id(m.tool_call_id or ""),
            "content": m.content,
        }
        return "user", [result]
    blocks: list[dict[str, Any]] = []
    if m.content:
        blocks.append({"type": "text", "text": m.content})
    if m.role == "assistant":
        blocks.extend(
            {"type": "tool_use", "id": _tool_id(c.id), "name": c.name, "input": _input(c)}
            for c in m.tool_calls
        )
    return m.role, blocks


def _tool_id(call_id: str) -> str:
    # Ids from other backends may hold characters the API refuses (it allows [A-Za-z0-9_-]).
    return re.sub(r"[^A-Za-z0-9_-]", "_", call_id) or "call"


def _input(call: ToolCall) -> dict[str, Any]:
    # tool_use input must be an object; a malformed call from another backend's history
    # (already answered with an error result) is replayed with its raw text kept visible.
    try:
        value = json.loads(call.arguments)
    except json.JSONDecodeError:
        return {"raw_arguments": call.arguments}
    return value if isinstance(value, dict) else {"raw_arguments": call.arguments}


def _streamed_reply(events: Any, on_delta: OnDelta) -> LLMReply:
    """The reply a stream of events adds up to. The text and the first tool call's inner
    thoughts (and message, for send_message) go to `on_delta` as they arrive."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    usage: dict[str, int] = {}
    finish = None
    fields: FieldStream | None = None
    for event in events:
        if event.type == "message_start":
            usage = _usage_counts(event.message.usage)
        elif event.type == "content_block_start" and event.content_block.type == "tool_use":
            block = event.content_block
            calls.append({"id": block.id, "name": block.name, "json": []})
            if fields is None:
                fields = FieldStream(watched_fields(block.name), on_delta)
        elif event.type == "content_block_delta" and event.delta.type == "text_delta":
            texts.append(event.delta.text)
            on_delta(THOUGHTS, event.delta.text)
        elif event.type == "content_block_delta" and event.delta.type == "input_json_delta":
            calls[-1]["json"].append(event.delta.partial_json)
            if len(calls) == 1 and fields is not None:
                fields.feed(event.delta.partial_json)
        elif event.type == "message_delta":
            finish = event.delta.stop_reason or finish
            usage["output_tokens"] = event.usage.output_tokens
    prompt = usage.get("input_tokens", 0) + usage.get("cached", 0) + usage.get("written", 0)
    return LLMReply(
        content="".join(texts) or None,
        tool_calls=[
            ToolCall(id=c["id"], name=c["name"], arguments="".join(c["json"]) or "{}")
            for c in calls
        ],
        finish_reason=finish,
        prompt_tokens=prompt if usage else None,
        completion_tokens=usage.get("output_tokens"),
        cached_prompt_tokens=usage.get("cached") if usage else None,
    )


def _usage_counts(usage: Any) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens or 0,
        "output_tokens": usage.output_tokens or 0,
        # input_tokens counts only the uncached part; the prompt is all three.
        "cached": getattr(usage, "cache_read_input_tokens", None) or 0,
        "written": getattr(usage, "cache_creation_input_tokens", None) or 0,
    }


def _reply(response: Any) -> LLMReply:
    texts = [b.text for b in response.content if b.type == "text"]
    calls = [
        ToolCall(id=b.id, name=b.name, arguments=json.dumps(b.input))
        for b in response.content
        if b.type == "tool_use"
    ]
    counts = _usage_counts(response.usage) if response.usage else None
    return LLMReply(
        content="\n".join(texts) if texts else None,
        tool_calls=calls,
        finish_reason=response.stop_reason,
        prompt_tokens=sum(counts[k] for k in ("input_tokens", "cached", "written"))
        if counts
        else None,
        completion_tokens=counts["output_tokens"] if counts else None,
        cached_prompt_tokens=counts["cached"] if counts else None,
    )


def _detail(e: anthropic.APIStatusError) -> str:
    body = e.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message") or e.message)
    return e.message
