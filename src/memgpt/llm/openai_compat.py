"""OpenAI chat completions with native tool calling: OpenAI itself, or any compatible server.

Ollama, vLLM, llama.cpp server and LM Studio speak the same wire format; point
`LLMConfig.base_url` at them. Retries with backoff (429, 5xx, timeouts) are left
to the SDK; every failure that survives them becomes an `LLMError` sentence.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai

from memgpt.llm import (
    connection_error_message,
    is_official,
    resolve_api_key,
    short,
    status_error_message,
    where,
)
from memgpt.llm.base import (
    ChatMessage,
    FunctionSchema,
    LLMError,
    LLMReply,
    leading_system,
    output_limit,
)
from memgpt.llm.streaming import THOUGHTS, FieldStream, OnDelta, watched_fields
from memgpt.llm.tokens import TokenCounter, estimate_tokens, tiktoken_counter
from memgpt.schemas import LLMConfig, ToolCall, new_id

OPENAI_HOST = "api.openai.com"
OPENAI_BASE_URL = f"https://{OPENAI_HOST}/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
# Local servers ignore the key, but the SDK refuses to send a request without one.
PLACEHOLDER_KEY = "no-key-needed"


class OpenAIChat:
    def __init__(self, config: LLMConfig, *, max_retries: int = 2):
        self.config = config
        self.max_retries = max_retries
        # Explicit, so that OPENAI_BASE_URL in the environment cannot silently redirect us.
        self.base_url = config.base_url or OPENAI_BASE_URL
        self.key_env = config.api_key_env or (
            DEFAULT_KEY_ENV if is_official(config, OPENAI_HOST) else None
        )
        self._counter: TokenCounter = tiktoken_counter(config.model) or estimate_tokens
        self._client: openai.OpenAI | None = None
        self._key_missing = False

    def count_tokens(self, text: str) -> int:
        return self._counter(text)

    streams = True  # `chat` takes on_delta

    def chat(
        self,
        messages: list[ChatMessage],
        functions: list[FunctionSchema],
        on_delta: OnDelta | None = None,
        *,
        cache_key: str | None = None,
        max_tokens: int | None = None,
    ) -> LLMReply:
        """One completion; with `on_delta`, streamed, its text handed on as it arrives."""
        system, rest = leading_system(messages)
        # One system message: some servers' chat templates refuse a second one.
        wire = [{"role": "system", "content": "\n\n".join(system)}] if system else []
        request: dict[str, Any] = {
            "model": self.config.model,
            "messages": wire + [_wire_message(m) for m in rest],
        }
        if cache_key and is_official(self.config, OPENAI_HOST):
            # Requests with one key go to the same cache; other servers may refuse the field.
            request["prompt_cache_key"] = cache_key
        # OpenAI's reasoning models accept only the newer name; other servers know the older one.
        limit = output_limit(self.config, max_tokens)
        if is_official(self.config, OPENAI_HOST):
            request["max_completion_tokens"] = limit
        else:
            request["max_tokens"] = limit
        if self.config.temperature is not None:
            request["temperature"] = self.config.temperature
        if functions:
            request["tools"] = [{"type": "function", "function": f} for f in functions]
            request["tool_choice"] = "required"
        if on_delta is not None:
            request["stream"] = True
            request["stream_options"] = {"include_usage": True}
        try:
            response = self._get_client().chat.completions.create(**request)
            if on_delta is not None:
                reply = _streamed_reply(response, on_delta)
                if reply.finish_reason is None:  # the server closed it before the end
                    raise LLMError(
                        f"The stream from {where(self.config, self.base_url)} broke off before "
                        "the reply was complete: try again."
                    )
                return reply
        except openai.APITimeoutError as e:
            raise LLMError(self._connection_error(timed_out=True)) from e
        except openai.APIConnectionError as e:
            raise LLMError(self._connection_error(timed_out=False)) from e
        except openai.APIStatusError as e:
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
        except (openai.APIError, ValueError) as e:
            # e.g. a body that is not a chat completion, or not JSON at all (the SDK's decoder
            # raises JSONDecodeError or UnicodeDecodeError, both ValueErrors, for garbled bytes)
            raise LLMError(
                f"The server at {where(self.config, self.base_url)} sent an unusable answer "
                f"({short(str(e))})."
            ) from e
        return _reply(response)

    def _get_client(self) -> openai.OpenAI:
        # Created on first use, so that counting tokens never needs a key.
        if self._client is None:
            key = resolve_api_key(self.config, DEFAULT_KEY_ENV, OPENAI_HOST)
            self._key_missing = key is None
            self._client = openai.OpenAI(
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


def _wire_message(m: ChatMessage) -> dict[str, Any]:
    if m.role == "tool":
        return {"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.content}
    if m.role == "assistant" and m.tool_calls:
        return {
            "role": "assistant",
            "content": m.content or None,
            "tool_calls": [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in m.tool_calls
            ],
        }
    return {"role": m.role, "content": m.content}


def _tokens(usage: Any) -> dict[str, int | None]:
    details = getattr(usage, "prompt_tokens_details", None)
    return {
        "prompt_tokens": usage.prompt_tokens if usage else None,
        "completion_tokens": usage.completion_tokens if usage else None,
        "cached_prompt_tokens": getattr(details, "cached_tokens", None),
    }


def _streamed_reply(stream: Any, on_delta: OnDelta) -> LLMReply:
    """The reply a stream of chunks adds up to. The free text and the first call's
    inner thoughts (and message, for send_message) go to `on_delta` as they arrive."""
    content: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish, usage = None, None
    fields: FieldStream | None = None
    for chunk in stream:
        usage = chunk.usage or usage
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        if choice.delta.content:
            content.append(choice.delta.content)
            on_delta(THOUGHTS, choice.delta.content)
        for part in choice.delta.tool_calls or []:
            call = calls.setdefault(part.index, {"id": None, "name": "", "arguments": []})
            call["id"] = part.id or call["id"]
            if part.function is None:
                continue
            call["name"] += part.function.name or ""
            if part.function.arguments and part.index == min(calls):
                if fields is None:
                    fields = FieldStream(watched_fields(call["name"]), on_delta)
                fields.feed(part.function.arguments)
            call["arguments"].append(part.function.arguments or "")
    return LLMReply(
        content="".join(content) or None,
        tool_calls=[
            ToolCall(
                id=c["id"] or new_id("call"), name=c["name"], arguments="".join(c["arguments"])
            )
            for _, c in sorted(calls.items())
        ],
        finish_reason=finish,
        **_tokens(usage),
    )


def _reply(response: Any) -> LLMReply:
    tokens = _tokens(response.usage)
    if not response.choices:
        # Nothing to pass on; the agent loop treats an empty reply as a bad output.
        return LLMReply(**tokens)
    choice = response.choices[0]
    calls = [
        ToolCall(
            id=c.id or new_id("call"),  # some local servers leave ids out
            name=c.function.name or "",
            # The raw text is kept as written; a server that sends an object gets it re-encoded.
            arguments=(
                c.function.arguments
                if isinstance(c.function.arguments, str)
                else json.dumps(c.function.arguments)
            ),
        )
        for c in choice.message.tool_calls or []
    ]
    return LLMReply(
        content=choice.message.content,
        tool_calls=calls,
        finish_reason=choice.finish_reason,
        **tokens,
    )


def _detail(e: openai.APIStatusError) -> str:
    body = e.body
    if isinstance(body, dict):
        message = body.get("message") or body.get("error", {})
        if isinstance(message, dict):
            message = message.get("message")
        if message:
            return str(message)
    return e.message
