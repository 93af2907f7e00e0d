"""Reading a call's string arguments while its JSON arrives, and OpenAIChat streaming."""

from __future__ import annotations

import json
import random

import pytest

from memgpt.llm.base import ChatMessage, LLMError
from memgpt.llm.openai_compat import OpenAIChat
from memgpt.llm.streaming import FieldStream, watched_fields
from memgpt.schemas import LLMConfig
from tests.fakes.openai_server import fake_openai, script

__all__ = ["fake_openai"]

ARGS = {
    "inner_thoughts": 'Think "hard" \\ é 🎉\n ok',
    "nested": {"message": "not this one", "list": ["]", "}"]},
    "message": "Hi, Ana! 🎉 \\o/",
    "request_heartbeat": False,
}


@pytest.mark.parametrize("ascii_only", [True, False])
def test_watched_fields_come_out_whole_however_the_json_is_cut(ascii_only):
    text = json.dumps(ARGS, ensure_ascii=ascii_only)
    rng = random.Random(7)
    for _ in range(300):
        got: dict[str, str] = {}

        def collect(field: str, text: str, got: dict[str, str] = got) -> None:
            got[field] = got.get(field, "") + text

        stream = FieldStream(watched_fields("send_message"), collect)
        i = 0
        while i < len(text):
            n = rng.randint(1, 7)
            stream.feed(text[i : i + n])
            i += n
        assert got == {"inner_thoughts": ARGS["inner_thoughts"], "message": ARGS["message"]}


def test_other_functions_show_only_their_thoughts():
    got: list[tuple[str, str]] = []
    stream = FieldStream(watched_fields("archival_memory_search"), lambda f, t: got.append((f, t)))
    stream.feed(json.dumps({"inner_thoughts": "look", "query": "tea"}))
    assert got == [("inner_thoughts", "look")]


def _llm(server) -> OpenAIChat:
    return OpenAIChat(LLMConfig(model="m", base_url=server.base_url), max_retries=0)


def test_a_streamed_reply_equals_the_whole_one_and_keeps_usage(fake_openai):
    arguments = json.dumps({"inner_thoughts": "Thinking it over.", "message": "Hello there!"})
    usage = {
        "prompt_tokens": 50,
        "completion_tokens": 9,
        "prompt_tokens_details": {"cached_tokens": 32},
    }
    spec = {"tool_calls": [{"name": "send_message", "arguments": arguments}], "usage": usage}
    server = fake_openai(script(spec, spec))
    pieces: list[tuple[str, str]] = []
    streamed = _llm(server).chat(
        [ChatMessage(role="user", content="x")], [], lambda f, t: pieces.append((f, t))
    )
    whole = _llm(server).chat([ChatMessage(role="user", content="x")], [])
    assert streamed.tool_calls[0].arguments == whole.tool_calls[0].arguments == arguments
    assert (streamed.prompt_tokens, streamed.cached_prompt_tokens, streamed.completion_tokens) == (
        50,
        32,
        9,
    )
    assert len(pieces) > 2
    assert "".join(t for f, t in pieces if f == "message") == "Hello there!"
    assert server.requests[0]["stream_options"] == {"include_usage": True}


def test_a_stream_cut_short_is_an_error_not_a_reply(fake_openai):
    arguments = json.dumps({"inner_thoughts": "Thinking it over.", "message": "Hello there!"})
    server = fake_openai(
        script({"tool_calls": [{"name": "send_message", "arguments": arguments}], "cut_after": 4})
    )
    with pytest.raises(LLMError, match="broke off before the reply was complete"):
        _llm(server).chat([ChatMessage(role="user", content="x")], [], lambda f, t: None)
