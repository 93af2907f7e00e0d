"""Hostile input without the server: search syntax is text; odd input is handled or refused cleanly."""

from __future__ import annotations

import pytest

from memgpt.bench import reliability_hostile
from memgpt.llm.scripted import call


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
