"""OpenAIChat against a real local HTTP server speaking the chat completions format."""

from __future__ import annotations

import json
import socket

import pytest

from memgpt.llm import create_llm, parse_model_string
from memgpt.llm.base import ChatMessage, LLMError, LLMReply
from memgpt.llm.openai_compat import OpenAIChat
from memgpt.llm.tokens import estimate_tokens
from memgpt.schemas import LLMConfig, ToolCall
from tests.fakes.openai_server import FakeOpenAIServer, fake_openai, script

__all__ = ["fake_openai"]  # the fixture is used by name below

SEND_MESSAGE = {
    "name": "send_message",
    "description": "Send a message to the user.",
    "parameters": {
        "type": "object",
        "properties": {"message": {"type": "string"}},
        "required": ["message"],
    },
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MY_KEY"):
        monkeypatch.delenv(name, raising=False)


def _client(server: FakeOpenAIServer, **overrides: object) -> OpenAIChat:
    config = LLMConfig(provider="openai", model="test-model", base_url=server.base_url)
    return OpenAIChat(config.model_copy(update=overrides), max_retries=2)


def test_tool_call_round_trip_sends_history_and_keeps_raw_arguments(fake_openai) -> None:
    raw = '{"message": "Hi Chad!",  "extra": [1,2]}'  # odd spacing must survive untouched
    server = fake_openai(
        script(
            {"content": "User said hi.", "tool_calls": [{"name": "send_message", "arguments": raw}]}
        )
    )
    llm = _client(server, max_output_tokens=77)
    history = [
        ChatMessage(role="system", content="You are MemGPT."),
        ChatMessage(role="user", content="hello"),
        ChatMessage(
            role="assistant",
            content="thinking",
            tool_calls=[ToolCall(id="call_a", name="send_message", arguments='{"message": "yo"}')],
        ),
        ChatMessage(role="tool", content='{"status": "OK"}', tool_call_id="call_a"),
        ChatMessage(role="user", content="how are you?"),
    ]

    reply = llm.chat(history, [SEND_MESSAGE])

    assert reply.content == "User said hi."
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("send_message", raw)]
    assert reply.tool_calls[0].id == "call_1"  # the server's id, passed through
    assert reply.finish_reason == "tool_calls"
    sent = server.requests[0]
    assert reply.prompt_tokens == len(json.dumps(sent["messages"]).split())
    assert reply.completion_tokens is not None and reply.completion_tokens > 0
    assert sent["model"] == "test-model"
    assert sent["max_tokens"] == 77 and "max_completion_tokens" not in sent
    assert sent["tools"] == [{"type": "function", "function": SEND_MESSAGE}]
    assert sent["tool_choice"] == "required"
    assert sent["messages"] == [
        {"role": "system", "content": "You are MemGPT."},
        {"role": "user", "content": "hello"},
        {
            "role": "assistant",
            "content": "thinking",
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "send_message", "arguments": '{"message": "yo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": '{"status": "OK"}'},
        {"role": "user", "content": "how are you?"},
    ]


def test_invalid_json_arguments_are_passed_through_for_the_agent_to_judge(fake_openai) -> None:
    server = fake_openai(
        script({"content": None, "tool_calls": [{"name": "nope", "arguments": "{not json"}]})
    )
    reply = _client(server).chat([ChatMessage(role="user", content="x")], [SEND_MESSAGE])
    assert reply.content is None
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("nope", "{not json")]


def test_plain_text_call_without_functions_sends_no_tools(fake_openai) -> None:
    server = fake_openai(script({"content": "A summary."}))
    reply = _client(server).chat([ChatMessage(role="user", content="summarize")], [])
    assert reply.content == "A summary." and reply.tool_calls == []
    assert reply.finish_reason == "stop"
    assert "tools" not in server.requests[0] and "tool_choice" not in server.requests[0]


def test_the_summarizer_caps_its_reply_at_the_summary_budget(fake_openai) -> None:
    """Text past the summary's budget is cut, so it is never asked for (nor paid for)."""
    from memgpt.agent.summarizer import summarize
    from memgpt.schemas import Message

    server = fake_openai(script({"content": "A summary."}, {"content": "Hello."}))
    llm = _client(server, max_output_tokens=900)
    evicted = [Message(agent_id="a", role="user", text="My cat is Tom.", event="user_message")]
    assert summarize(llm, "", evicted, max_tokens=120) == "A summary."
    assert server.requests[0]["max_tokens"] == 120
    llm.chat([ChatMessage(role="user", content="hi")], [], max_tokens=5000)
    assert server.requests[1]["max_tokens"] == 900  # a cap never raises the budget


def test_key_is_read_from_the_named_env_var_and_sent(fake_openai, monkeypatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-secret-123")
    server = fake_openai(script({"content": "ok"}))
    _client(server, api_key_env="MY_KEY").chat([ChatMessage(role="user", content="x")], [])
    assert server.headers[0]["authorization"] == "Bearer sk-secret-123"


def test_local_server_without_key_gets_a_placeholder(fake_openai) -> None:
    server = fake_openai(script({"content": "ok"}))
    _client(server).chat([ChatMessage(role="user", content="x")], [])
    assert server.headers[0]["authorization"] == "Bearer no-key-needed"


def test_official_api_without_key_fails_before_any_request() -> None:
    llm = create_llm(LLMConfig(provider="openai", model="gpt-4o-mini"))
    with pytest.raises(LLMError) as err:
        llm.chat([ChatMessage(role="user", content="x")], [])
    assert str(err.value) == "No API key found: set OPENAI_API_KEY or run `memgpt configure`."


@pytest.mark.parametrize(
    ("status", "expected_tries", "fragment"),
    [
        (401, 1, "rejected the API key in OPENAI_API_KEY"),
        (404, 1, "Model 'test-model' was not found at"),
        (429, 3, "still rate limiting after 2 retries"),
        (500, 3, "failed with HTTP 500 after 2 retries"),
        (503, 3, "failed with HTTP 503 after 2 retries"),
    ],
)
def test_http_errors_become_one_actionable_sentence(
    fake_openai, monkeypatch, status: int, expected_tries: int, fragment: str
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    server = fake_openai(lambda request: {"status": status, "message": "nope"})
    llm = _client(server, api_key_env="OPENAI_API_KEY", provider_name="gw")
    with pytest.raises(LLMError) as err:
        llm.chat([ChatMessage(role="user", content="x")], [SEND_MESSAGE])
    message = str(err.value)
    assert fragment in message and f"{server.base_url} (provider 'gw')" in message
    assert status == 401 or "nope" in message  # the provider's own reason
    sentence = message.replace(server.base_url, "URL")
    assert sentence.endswith(".") and sentence.count(".") == 1 and "\n" not in sentence
    assert len(server.requests) == expected_tries  # the SDK retried 429/5xx, not 401/404


def test_401_without_a_key_says_the_server_needs_one(fake_openai) -> None:
    server = fake_openai(lambda request: {"status": 401})
    with pytest.raises(LLMError, match="requires an API key: set MY_KEY"):
        _client(server, api_key_env="MY_KEY").chat([ChatMessage(role="user", content="x")], [])
    with pytest.raises(LLMError, match="requires an API key: name the variable holding it"):
        _client(server).chat([ChatMessage(role="user", content="x")], [])


def test_rate_limit_then_success_is_retried_transparently(fake_openai) -> None:
    server = fake_openai(script({"status": 429}, {"status": 500}, {"content": "finally"}))
    reply = _client(server).chat([ChatMessage(role="user", content="x")], [])
    assert reply.content == "finally" and len(server.requests) == 3


def test_timeout_is_reported_with_the_limit(fake_openai) -> None:
    server = fake_openai(lambda request: {"delay_s": 5, "content": "too late"})
    llm = OpenAIChat(LLMConfig(model="m", base_url=server.base_url, timeout_s=0.2), max_retries=0)
    with pytest.raises(LLMError) as err:
        llm.chat([ChatMessage(role="user", content="x")], [])
    assert "did not answer within 0.2 s" in str(err.value)
    assert server.base_url in str(err.value)


def test_unreachable_endpoint_names_the_url() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    llm = OpenAIChat(LLMConfig(model="m", base_url=url), max_retries=0)
    with pytest.raises(LLMError) as err:
        llm.chat([ChatMessage(role="user", content="x")], [])
    assert str(err.value) == (
        f"Cannot reach {url}: check that the server is running and the base URL is right."
    )


def test_official_api_uses_max_completion_tokens(monkeypatch) -> None:
    # No request leaves the machine: the point is the request body the client builds.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    llm = OpenAIChat(LLMConfig(model="gpt-4o-mini", max_output_tokens=55))
    captured: dict = {}

    def fake_create(**request: object) -> object:
        captured.update(request)
        raise LLMError("stop here")

    monkeypatch.setattr(llm._get_client().chat.completions, "create", fake_create)
    with pytest.raises(LLMError, match="stop here"):
        llm.chat([ChatMessage(role="user", content="x")], [])
    assert captured["max_completion_tokens"] == 55 and "max_tokens" not in captured


def test_prompt_cache_key_goes_to_the_official_api_only(fake_openai, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    official = OpenAIChat(LLMConfig(model="gpt-4o-mini"))
    captured: dict = {}

    def fake_create(**request: object) -> object:
        captured.update(request)
        raise LLMError("stop here")

    monkeypatch.setattr(official._get_client().chat.completions, "create", fake_create)
    with pytest.raises(LLMError, match="stop here"):
        official.chat([ChatMessage(role="user", content="x")], [], cache_key="agent-1")
    assert captured["prompt_cache_key"] == "agent-1"
    # Other servers may refuse a field they do not know.
    server = fake_openai(script({"content": "hi"}))
    _client(server).chat([ChatMessage(role="user", content="x")], [], cache_key="agent-1")
    assert "prompt_cache_key" not in server.requests[0]


def test_leading_system_messages_go_as_one(fake_openai) -> None:
    server = fake_openai(script({"content": "hi"}))
    history = [
        ChatMessage(role="system", content="instructions"),
        ChatMessage(role="system", content="working context"),
        ChatMessage(role="user", content="x"),
    ]
    _client(server).chat(history, [])
    assert server.requests[0]["messages"] == [
        {"role": "system", "content": "instructions\n\nworking context"},
        {"role": "user", "content": "x"},
    ]


def test_count_tokens_falls_back_to_the_estimate_for_unknown_models() -> None:
    llm = OpenAIChat(LLMConfig(model="llama3.1", base_url="http://localhost:11434/v1"))
    text = "Hello there, 12345 🎉"
    assert llm.count_tokens(text) == estimate_tokens(text)


# --- the factory and model strings (memgpt.llm) ---


@pytest.mark.parametrize(
    ("spec", "provider", "model", "base_url"),
    [
        ("openai/gpt-4o-mini", "openai", "gpt-4o-mini", "https://api.openai.com/v1"),
        ("gpt-4o", "openai", "gpt-4o", "https://api.openai.com/v1"),
        (
            "anthropic/claude-3-5-haiku-latest",
            "anthropic",
            "claude-3-5-haiku-latest",
            "https://api.anthropic.com",
        ),
        ("ollama/llama3.1:8b", "openai", "llama3.1:8b", "http://localhost:11434/v1"),
        ("local", "local", "smollm2", None),
        ("local/models/my model.Q4.gguf", "local", "models/my model.Q4.gguf", None),
        ("local//abs/path.gguf", "local", "/abs/path.gguf", None),
    ],
)
def test_parse_model_string(spec: str, provider: str, model: str, base_url: str | None) -> None:
    config = parse_model_string(spec)
    assert (config.provider, config.model, config.base_url) == (provider, model, base_url)


@pytest.mark.parametrize("spec", ["", "openai/", "mystery/model"])
def test_parse_model_string_rejects_bad_strings(spec: str) -> None:
    with pytest.raises(LLMError, match="use"):
        parse_model_string(spec)


def echo_policy(messages: list[ChatMessage], functions: list) -> LLMReply:
    return LLMReply(content=f"echo: {messages[-1].content}")


def test_create_llm_dispatches_on_provider() -> None:
    assert isinstance(create_llm(parse_model_string("ollama/llama3.1")), OpenAIChat)
    assert type(create_llm(parse_model_string("anthropic/claude-x"))).__name__ == "AnthropicChat"
    scripted = create_llm(
        LLMConfig(provider="scripted", model=f"{__name__}:echo_policy", context_window=999)
    )
    assert scripted.config.context_window == 999
    reply = scripted.chat([ChatMessage(role="user", content="hi")], [SEND_MESSAGE])
    assert reply.content == "echo: hi"


def test_ollama_config_talks_to_its_base_url(fake_openai) -> None:
    server = fake_openai(script({"content": "ok"}))
    config = parse_model_string("ollama/llama3.1").model_copy(update={"base_url": server.base_url})
    assert create_llm(config).chat([ChatMessage(role="user", content="x")], []).content == "ok"
    assert server.requests[0]["model"] == "llama3.1"
