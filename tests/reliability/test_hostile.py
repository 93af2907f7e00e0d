"""Hostile input without the server: search syntax is text; odd input is handled or refused cleanly."""

from __future__ import annotations

import pytest

from memgpt.bench import reliability_hostile
from memgpt.client import MemGPT
from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.scripted import ScriptedLLM, call
from memgpt.schemas import EmbeddingConfig
from tests.store.backends import BACKENDS, store_opener


def test_search_syntax_and_odd_text_never_crash_or_half_write():
    figures = reliability_hostile.run(examples=30, random_seed=11)
    assert figures["crashes"] == 0
    assert figures["violations"] == 0, figures["violation_examples"]
    assert figures["outcomes"]["InputTooLargeError"] >= 2  # the 1 MB strings


@pytest.mark.parametrize("text", ["lone \ud800 surrogate", "\udfff"])
def test_a_lone_surrogate_in_user_input_is_stored_as_a_replacement_character(make_agent, text):
    agent, _ = make_agent(lambda messages, functions: call("send_message", message="ok"))
    response = agent.send(text)
    assert response.text == "ok"
    stored = agent.store.list_messages(agent.id, limit=10)[0].text
    assert "\ufffd" in stored and stored.encode("utf-8")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_nul_from_the_user_or_the_model_is_stored_as_a_replacement_character(backend, tmp_path):
    """PostgreSQL cannot store NUL in text; a JSON body or a model reply can carry one."""
    client = MemGPT(store=store_opener(backend, tmp_path)())
    llm = ScriptedLLM(
        lambda messages, functions: call("send_message", message="o\x00k", inner_thoughts="\x00")
    )
    agent = client.create_agent(
        "nul", llm=llm, embedding=EmbeddingConfig(provider="hash"), embedder=HashEmbedder()
    )
    response = agent.send("nul\x00byte")
    assert response.text == "o\ufffdk"
    texts = [m.text for m in client.store.list_messages(agent.id, limit=10)]
    assert "nul\ufffdbyte" in texts
    client.close()
