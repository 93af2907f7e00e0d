"""AnthropicChat against a real local HTTP server speaking the Messages API format."""

from __future__ import annotations

import json
from typing import Any

import pytest

from memgpt.llm import create_llm
from memgpt.llm.anthropic import OPENING_USER_TURN, AnthropicChat, to_anthropic
from memgpt.llm.base import ChatMessage, LLMError
from memgpt.schemas import LLMConfig, ToolCall
from tests.fakes.openai_server import FakeHTTPServer, Spec, script


class FakeAnthropicServer(FakeHTTPServer):
    """POST /v1/messages; same policy specs as FakeOpenAIServer (the SDK adds /v1 itself)."""

    path = "/v1/messages"

    def render(self, request: dict[str, Any], spec: Spec) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if spec.get("content"):
            content.append({"type": "text", "text": spec["content"]})
        for call in spec.get("tool_calls", []):
            content.append(
                {
                    "type": "tool_use",
                    "id": self.next_id("toolu"),
                    "name": call["name"],
                    "input": json.loads(call["arguments"]),
                }
            )
        return {
            "id": self.next_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": request["model"],
            "content": content,
            "stop_reason": "tool_use" if spec.get("tool_calls") else "end_turn",
            "stop_sequence": None,
            "usage": spec.get("usage")
            or {"input_tokens": len(json.dumps(request).split()), "output_tokens": 9},
        }

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"type": "error", "error": {"type": "fake_error", "message": message}}

    named_events = True

    def chunks(self, rendered: dict[str, Any]) -> list[dict[str, Any]]:
        """The Messages API's stream of events for a rendered reply, text and tool input
        in pieces of 6 characters."""
        usage = rendered["usage"]
        start = {**rendered, "content": [], "stop_reason": None}
        out: list[dict[str, Any]] = [
            {"type": "message_start", "message": {**start, "usage": {**usage, "output_tokens": 1}}}
        ]
        for index, block in enumerate(rendered["content"]):
            if block["type"] == "text":
                head, text, kind = {"type": "text", "text": ""}, block["text"], "text_delta"
            else:
                head = {**block, "input": {}}
                text, kind = json.dumps(block["input"]), "input_json_delta"
            out.append({"type": "content_block_start", "index": index, "content_block": head})
            key = "text" if kind == "text_delta" else "partial_json"
            out += [
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": kind, key: text[i : i + 6]},
                }
                for i in range(0, len(text), 6)
            ]
            out.append({"type": "content_block_stop", "index": index})
        delta = {"stop_reason": rendered["stop_reason"], "stop_sequence": None}
        out.append(
            {
                "type": "message_delta",
                "delta": delta,
                "usage": {"output_tokens": usage["output_tokens"]},
            }
        )
        out.append({"type": "message_stop"})
        return out


SEARCH = {
    "name": "archival_memory_search",
    "description": "Search archival memory.",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def _client(server: FakeAnthropicServer) -> AnthropicChat:
    # As the anthropic provider resolves: its key variable named, since another address
    # gets no key unless its configuration names one.
    config = LLMConfig(
        provider="anthropic",
        model="claude-test",
        base_url=server.base_url,
        api_key_env="ANTHROPIC_API_KEY",
    )
    return AnthropicChat(config)


def test_history_maps_to_alternating_turns_with_tool_blocks() -> None:
    system, turns = to_anthropic(
        [
            ChatMessage(role="system", content="You are MemGPT."),
            ChatMessage(role="system", content="Core memory: likes tea."),
            ChatMessage(role="user", content="hi"),
            ChatMessage(role="user", content="are you there?"),
            ChatMessage(
                role="assistant",
                content="Let me look.",
                tool_calls=[
                    ToolCall(
                        id="call.1", name="archival_memory_search", arguments='{"query": "tea"}'
                    )
                ],
            ),
            ChatMessage(role="tool", content='{"results": []}', tool_call_id="call.1"),
            ChatMessage(role="user", content="heartbeat"),
        ]
    )
    # Breakpoints after the instructions (and the tools before them), after the working
    # context, and after all but the newest message: a step pays only for what is new.
    assert system == [
        {"type": "text", "text": "You are MemGPT.", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Core memory: likes tea.", "cache_control": {"type": "ephemeral"}},
    ]
    assert turns == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": "are you there?"}],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {
                    "type": "tool_use",
                    "id": "call_1",
                    "name": "archival_memory_search",
                    "input": {"query": "tea"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "call_1",
                    "content": '{"results": []}',
                    "cache_control": {"type": "ephemeral"},
                },
                {"type": "text", "text": "heartbeat"},
            ],
        },
    ]


def test_history_opening_with_the_assistant_gets_a_user_turn_first() -> None:
    _, turns = to_anthropic(
        [
            ChatMessage(
                role="assistant",
                content="",
                tool_calls=[ToolCall(id="a", name="f", arguments="{bad")],
            ),
            ChatMessage(role="tool", content="error: invalid JSON", tool_call_id="a"),
            ChatMessage(role="user", content=""),  # empty: dropped, the API refuses it
        ]
    )
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[0]["content"] == [{"type": "text", "text": OPENING_USER_TURN}]
    assert turns[1]["content"] == [
        {"type": "tool_use", "id": "a", "name": "f", "input": {"raw_arguments": "{bad"}}
    ]
    assert turns[2]["content"] == [
        {
            "type": "tool_result",
            "tool_use_id": "a",
            "content": "error: invalid JSON",
            "cache_control": {"type": "ephemeral"},  # all but the newest message is cached
        }
    ]


def test_usage_counts_cache_reads_in_the_prompt(monkeypatch) -> None:
    """Anthropic's input_tokens leaves out what the cache served or stored; the prompt is all."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    usage = {
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_read_input_tokens": 300,
        "cache_creation_input_tokens": 20,
    }
    with FakeAnthropicServer(script({"content": "hi", "usage": usage})) as server:
        reply = _client(server).chat([ChatMessage(role="user", content="x")], [])
    assert (reply.prompt_tokens, reply.cached_prompt_tokens, reply.completion_tokens) == (
        330,
        300,
        5,
    )


def test_tool_use_reply_round_trip(monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    policy = script(
        {
            "content": "Searching.",
            "tool_calls": [{"name": "archival_memory_search", "arguments": '{"query": "tea"}'}],
        }
    )
    with FakeAnthropicServer(policy) as server:
        llm = _client(server)
        reply = llm.chat(
            [
                ChatMessage(role="system", content="sys"),
                ChatMessage(role="user", content="find tea"),
            ],
            [SEARCH],
        )
    assert server.failures == []
    assert reply.content == "Searching."
    assert [(c.id, c.name, json.loads(c.arguments)) for c in reply.tool_calls] == [
        ("toolu_1", "archival_memory_search", {"query": "tea"})
    ]
    assert reply.finish_reason == "tool_use"
    sent = server.requests[0]
    assert reply.prompt_tokens == len(json.dumps(sent).split()) and reply.completion_tokens == 9
    # SDK versions differ in the header they put the key in.
    headers = server.headers[0]
    sent_key = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
    assert sent_key == "sk-ant-test"
    assert sent["system"] == [
        {"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}
    ]
    assert sent["max_tokens"] == 1024
    assert sent["tool_choice"] == {"type": "any"}
    assert sent["tools"] == [
        {
            "name": "archival_memory_search",
            "description": "Search archival memory.",
            "input_schema": SEARCH["parameters"],
        }
    ]
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": "find tea"}]}]


def test_plain_text_call_sends_no_tools_and_no_empty_system() -> None:
    with FakeAnthropicServer(script({"content": "A summary."})) as server:
        reply = _client(server).chat([ChatMessage(role="user", content="summarize")], [])
    assert reply.content == "A summary." and reply.tool_calls == []
    assert {"tools", "tool_choice", "system"}.isdisjoint(server.requests[0])


def test_a_capped_reply_asks_for_the_cap() -> None:
    with FakeAnthropicServer(script({"content": "A summary."})) as server:
        _client(server).chat([ChatMessage(role="user", content="summarize")], [], max_tokens=64)
    assert server.requests[0]["max_tokens"] == 64


def test_official_api_without_key_fails_before_any_request() -> None:
    llm = create_llm(LLMConfig(provider="anthropic", model="claude-3-5-haiku-latest"))
    assert isinstance(llm, AnthropicChat)
    with pytest.raises(LLMError) as err:
        llm.chat([ChatMessage(role="user", content="x")], [])
    assert str(err.value) == "No API key found: set ANTHROPIC_API_KEY or run `memgpt configure`."


@pytest.mark.parametrize(
    ("status", "expected_tries", "fragment"),
    [
        (401, 1, "rejected the API key in ANTHROPIC_API_KEY"),
        (404, 1, "Model 'claude-test' was not found"),
        (429, 3, "still rate limiting after 2 retries"),
        (529, 3, "failed with HTTP 529 after 2 retries"),  # Anthropic's "overloaded"
    ],
)
def test_http_errors_become_one_actionable_sentence(
    monkeypatch, status: int, expected_tries: int, fragment: str
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-wrong")
    with (
        FakeAnthropicServer(lambda request: {"status": status}) as server,
        pytest.raises(LLMError) as err,
    ):
        _client(server).chat([ChatMessage(role="user", content="x")], [SEARCH])
    assert fragment in str(err.value) and server.base_url in str(err.value)
    assert len(server.requests) == expected_tries


@pytest.mark.parametrize("body", [b"\x00\xff{not json", b'{"type": "message", "content": [{'])
def test_a_garbled_body_is_an_llm_error_not_a_crash(monkeypatch, body: bytes) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    with (
        FakeAnthropicServer(lambda request: {"raw_body": body}) as server,
        pytest.raises(LLMError, match="unusable answer") as err,
    ):
        _client(server).chat([ChatMessage(role="user", content="x")], [SEARCH])
    assert server.base_url in str(err.value)


def test_timeout_is_reported_with_the_limit() -> None:
    with FakeAnthropicServer(lambda request: {"delay_s": 5, "content": "late"}) as server:
        llm = AnthropicChat(
            LLMConfig(provider="anthropic", model="m", base_url=server.base_url, timeout_s=0.2),
            max_retries=0,
        )
        with pytest.raises(LLMError, match=r"did not answer within 0\.2 s"):
            llm.chat([ChatMessage(role="user", content="x")], [])


def test_a_streamed_reply_equals_the_whole_one(monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    arguments = json.dumps({"inner_thoughts": "Looking it up.", "message": "Found it!"})
    usage = {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 300}
    spec = {
        "content": "Let me see.",
        "tool_calls": [{"name": "send_message", "arguments": arguments}],
        "usage": usage,
    }
    pieces: list[tuple[str, str]] = []
    with FakeAnthropicServer(script(spec, spec)) as server:
        streamed = _client(server).chat(
            [ChatMessage(role="user", content="x")], [SEARCH], lambda f, t: pieces.append((f, t))
        )
        whole = _client(server).chat([ChatMessage(role="user", content="x")], [SEARCH])
    assert server.requests[0]["stream"] is True
    assert json.loads(streamed.tool_calls[0].arguments) == json.loads(arguments)
    assert (streamed.content, streamed.finish_reason) == (whole.content, whole.finish_reason)
    assert (streamed.prompt_tokens, streamed.cached_prompt_tokens, streamed.completion_tokens) == (
        310,
        300,
        5,
    )
    assert "".join(t for f, t in pieces if f == "message") == "Found it!"
    assert "".join(t for f, t in pieces if f == "inner_thoughts") == "Let me see.Looking it up."


def test_a_cut_stream_is_an_error(monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    arguments = json.dumps({"inner_thoughts": "Looking it up.", "message": "Found it!"})
    spec = {"tool_calls": [{"name": "send_message", "arguments": arguments}], "cut_after": 4}
    with FakeAnthropicServer(script(spec)) as server, pytest.raises(LLMError, match="broke off"):
        _client(server).chat([ChatMessage(role="user", content="x")], [SEARCH], lambda f, t: None)
