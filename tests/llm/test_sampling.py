"""Lazy grammar sampling (`memgpt.llm.sampling`) on the real SmolLM2-135M."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("llama_cpp", reason="needs llama-cpp-python (memgpt[local])")

from llama_cpp import Llama, LlamaGrammar  # noqa: E402

from memgpt.llm.base import ChatMessage  # noqa: E402
from memgpt.llm.local import LocalLlama  # noqa: E402
from memgpt.llm.sampling import LazyGrammarLlama  # noqa: E402
from memgpt.schemas import LLMConfig  # noqa: E402
from tests.llm.test_decoding import token_by_token  # noqa: E402
from tests.llm.test_local import FUNCTIONS  # noqa: E402

pytestmark = pytest.mark.slow

SEND_MESSAGE = FUNCTIONS[0]
CONVERSATION = [
    ChatMessage(role="system", content="You are Sam, a friendly assistant with a memory."),
    ChatMessage(role="user", content="Hi, I'm Ada and I love chess. Please remember that."),
]


@pytest.fixture(scope="module")
def greedy() -> LocalLlama:
    return LocalLlama(
        LLMConfig(provider="local", model="smollm2", max_output_tokens=96, temperature=0)
    )


def test_greedy_calls_are_those_of_the_grammar_applied_first(greedy: LocalLlama, monkeypatch):
    """The model's own choice is kept where the grammar allows it, which is the token the
    grammar-first chain picks too: greedy decoding writes the same call either way."""
    lazy = token_by_token(greedy, CONVERSATION, [SEND_MESSAGE])
    llama = greedy.llama
    assert isinstance(llama, LazyGrammarLlama) and llama.grammar_sampler is not None
    monkeypatch.setattr(llama, "_init_sampler", Llama._init_sampler.__get__(llama))
    assert token_by_token(greedy, CONVERSATION, [SEND_MESSAGE]) == lazy
    assert lazy["function"] == "send_message"


def test_a_token_the_grammar_refuses_is_drawn_again_from_those_it_allows(greedy: LocalLlama):
    """A two-character cap ends the message where the model would write on: the closing
    quote is never its own choice, so it comes from a resample."""
    capped = json.loads(json.dumps(SEND_MESSAGE))
    capped["parameters"]["properties"]["message"]["maxLength"] = 2
    reply = greedy.chat(CONVERSATION, [capped])
    [call] = reply.tool_calls
    assert len(json.loads(call.arguments)["message"]) <= 2
    assert reply.finish_reason == "stop"
    assert greedy.resampled_tokens >= 1


def test_the_resample_writes_what_the_model_would_not(greedy: LocalLlama):
    llama = greedy.llama
    prompt = llama.tokenize(b"The capital of France is")
    free = llama.create_completion(prompt, max_tokens=3, temperature=0)["choices"][0]["text"]
    assert not free.startswith(" Berlin")  # the model's own choice is another token
    berlin = LlamaGrammar.from_string('root ::= " Berlin"', verbose=False)
    forced = llama.create_completion(prompt, max_tokens=8, temperature=0, grammar=berlin)
    assert forced["choices"][0]["text"] == " Berlin"
    assert llama.grammar_sampler is not None and llama.grammar_sampler.refused >= 1


def test_plain_text_is_sampled_without_a_grammar(greedy: LocalLlama):
    reply = greedy.chat([ChatMessage(role="user", content="Say hi.")], [])
    assert reply.content is not None
    assert greedy.llama.grammar_sampler is None and greedy.resampled_tokens == 0
