"""Invariant 5 against a real HTTP endpoint answering with a random mix of faults."""

from __future__ import annotations

from memgpt.bench import reliability_faults
from memgpt.llm.base import LLMReply
from memgpt.schemas import ToolCall, storable_text


def test_a_faulty_model_never_crashes_a_step(tmp_path):
    figures = reliability_faults.run(150, seed=3, workdir=tmp_path)
    assert figures["crashes"] == 0, figures["crash_examples"]
    assert figures["violations"] == 0, figures["violation_examples"]
    assert figures["steps"] >= 150
    assert figures["max_attempts_per_call"] <= figures["retry_bound"]
    assert (
        figures["min_retry_gap_ms"] is None
        or figures["min_retry_gap_ms"] >= figures["retry_after_ms"]
    )
    assert set(figures["faults_injected"]) >= {
        "invalid_json",
        "garbled_body",
        "http_503",
        "lone_surrogate",
    }
    assert (
        "invalid_function_call" in figures["stop_reasons"]
        and "llm_error" in figures["stop_reasons"]
    )


def test_lone_surrogates_in_a_reply_become_replacement_characters():
    reply = LLMReply(
        content="a \ud83d b",
        tool_calls=[ToolCall(id="c", name="f\udc00", arguments='{"x": "\ud800"}')],
    )
    assert reply.content == "a \ufffd b"
    assert reply.tool_calls[0].name == "f\ufffd"
    assert reply.tool_calls[0].arguments.encode("utf-8")
    assert storable_text("fine 🧗") == "fine 🧗"
