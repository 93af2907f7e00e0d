"""Jump-forward decoding (`memgpt.llm.decoding`) on the real SmolLM2-135M."""

from __future__ import annotations

import json
import math

import jsonschema
import pytest

pytest.importorskip("llama_cpp", reason="needs llama-cpp-python (memgpt[local])")

from memgpt.llm.base import ChatMessage  # noqa: E402
from memgpt.llm.grammar import call_schema, compiled  # noqa: E402
from memgpt.llm.local import LocalLlama  # noqa: E402
from memgpt.schemas import LLMConfig  # noqa: E402
from tests.llm.test_local import CONVERSATION, FUNCTIONS  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def greedy() -> LocalLlama:
    return LocalLlama(
        LLMConfig(provider="local", model="smollm2", max_output_tokens=256, temperature=0)
    )


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMGPT_HOME", str(tmp_path))


def token_by_token(client: LocalLlama, messages: list[ChatMessage], functions: list) -> dict:
    """The call llama-cpp-python's own loop writes for this prompt, a decode a token."""
    llama = client.llama
    tokens, _ = client._prompt_tokens(messages, functions)
    room = min(client.config.max_output_tokens, llama.n_ctx() - len(tokens))
    grammar = compiled(json.dumps(call_schema(functions, room)))
    llama.reset()
    plain = llama.create_completion(tokens, max_tokens=room, temperature=0, grammar=grammar)
    return json.loads(plain["choices"][0]["text"])


def test_greedy_writes_a_valid_call_in_the_grammars_order(greedy: LocalLlama, home):
    """Forced text is tokenized as one piece, which can split it otherwise than the model
    would have (`{"` where it writes `{` `"`), so the call may differ from llama.cpp's
    token by token; it is still a call to an offered function, its arguments valid and
    in the order the grammar writes them."""
    reply = greedy.chat(CONVERSATION, FUNCTIONS)
    [call] = reply.tool_calls
    expected = token_by_token(greedy, CONVERSATION, FUNCTIONS)
    schemas = {f["name"]: f["parameters"] for f in FUNCTIONS}
    for name, arguments in ((call.name, json.loads(call.arguments)), expected.values()):
        jsonschema.validate(arguments, schemas[name])
        assert list(arguments) == schemas[name]["required"]
    assert reply.finish_reason == "stop"


def test_forced_text_is_fed_in_batches(greedy: LocalLlama, home):
    """The prompt's decode (with the forced opening), then one per sampled token but the
    last: the rest of the name, the keys and the closing braces take none of their own."""
    greedy.chat(CONVERSATION, FUNCTIONS)
    sampled = greedy.generated_tokens - greedy.forced_tokens
    assert greedy.forced_tokens >= 12
    prompt = math.ceil(max(1, greedy.evaluated_tokens) / greedy.llama.n_batch)
    assert greedy.decodes == prompt + sampled - 1


def test_streaming_hands_on_thoughts_and_message(greedy: LocalLlama, home):
    deltas: dict[str, list[str]] = {}
    reply = greedy.chat(
        CONVERSATION, FUNCTIONS[:1], lambda field, text: deltas.setdefault(field, []).append(text)
    )
    arguments = json.loads(reply.tool_calls[0].arguments)
    assert "".join(deltas["inner_thoughts"]) == arguments["inner_thoughts"]
    assert "".join(deltas["message"]) == arguments["message"]


def test_the_next_step_reads_only_what_follows_the_call(greedy: LocalLlama, home):
    """The tokens written, forced ones included, are shown back as they were fed, so all
    that the cache holds is the next prompt's prefix."""
    call = greedy.chat(CONVERSATION, FUNCTIONS).tool_calls[0]
    llama = greedy.llama
    cached = llama.input_ids[: llama.n_tokens].tolist()
    later = [
        *CONVERSATION,
        ChatMessage(role="assistant", tool_calls=[call]),
        ChatMessage(role="tool", tool_call_id=call.id, name=call.name, content='{"status": "OK"}'),
    ]
    after, _ = greedy._prompt_tokens(later, FUNCTIONS)
    assert after[: len(cached)] == cached
    greedy.chat(later, FUNCTIONS)
    assert greedy.evaluated_tokens == len(after) - len(cached)


def test_max_tokens_cuts_the_call_short(home):
    short = LocalLlama(
        LLMConfig(provider="local", model="smollm2", max_output_tokens=8, temperature=0)
    )
    reply = short.chat(CONVERSATION, FUNCTIONS)
    assert reply.finish_reason == "length"
    assert short.generated_tokens == reply.completion_tokens == 8
