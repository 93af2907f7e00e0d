"""The processor loop: heartbeats, yield, the step bound, and bad model output (invariant 5)."""

from __future__ import annotations

import json

import pytest

from memgpt.llm.base import LLMError, LLMReply
from memgpt.llm.scripted import call, raw_call
from memgpt.schemas import StopReason


def step_requests(llm) -> list:
    """The requests that offered functions (summarizer calls left out)."""
    return [messages for messages, functions in llm.requests if functions]


def tool_results(llm, request: int) -> list[dict]:
    """The function results the model saw in its `request`-th step."""
    return [json.loads(m.content) for m in step_requests(llm)[request] if m.role == "tool"]


def events_seen(llm, request: int) -> list[dict]:
    return [json.loads(m.content) for m in step_requests(llm)[request] if m.role == "user"]


def test_send_message_yields_and_reply_reaches_user(make_agent):
    agent, llm = make_agent([call("send_message", "greet them", message="Hello Ana!")])
    response = agent.send("Hi, I'm Ana")
    assert response.stop_reason == StopReason.END_TURN
    assert response.steps == 1
    assert response.text == "Hello Ana!"
    assert response.thoughts == ["greet them"]
    assert [m.role for m in response.messages] == ["user", "assistant", "tool"]


def test_heartbeat_chains_a_second_step(make_agent):
    agent, llm = make_agent(
        [
            call(
                "core_memory_append",
                "note it",
                label="human",
                content="Name: Ana",
                request_heartbeat=True,
            ),
            call("send_message", "now answer", message="Nice to meet you, Ana."),
        ]
    )
    response = agent.send("I'm Ana")
    assert response.stop_reason == StopReason.END_TURN
    assert response.steps == 2
    assert "Name: Ana" in agent.memory["human"]
    assert events_seen(llm, 1)[-1]["type"] == "heartbeat"
    assert tool_results(llm, 1)[-1]["status"] == "OK"


def test_function_without_heartbeat_yields(make_agent):
    agent, _ = make_agent([call("core_memory_append", label="human", content="likes tea")])
    response = agent.send("I like tea")
    assert response.stop_reason == StopReason.END_TURN
    assert response.steps == 1
    assert response.text == ""


def test_step_bound_stops_a_runaway_chain(make_agent):
    def policy(messages, functions):
        return call("conversation_search", query="anything", request_heartbeat=True)

    agent, llm = make_agent(policy)
    response = agent.send("hello")
    assert response.stop_reason == StopReason.MAX_STEPS
    assert response.steps == agent.state.max_chained_steps
    assert len(llm.requests) == agent.state.max_chained_steps


BAD_OUTPUTS = {
    "invalid_json": raw_call("send_message", '{"message": "hi'),
    "not_an_object": raw_call("send_message", "[1, 2]"),
    "unknown_function": call("launch_rockets", target="moon"),
    "wrong_type": call("conversation_search", query="x", page={"not": "an int"}),
    "missing_argument": call("core_memory_append", label="human"),
    "no_function_call": LLMReply(content="I will just talk instead."),
    "empty_reply": LLMReply(),
}


@pytest.mark.parametrize("case", list(BAD_OUTPUTS))
def test_bad_output_becomes_a_failure_the_model_sees(make_agent, case):
    agent, llm = make_agent([BAD_OUTPUTS[case], call("send_message", message="Recovered.")])
    response = agent.send("hello")
    assert response.stop_reason == StopReason.END_TURN
    assert response.text == "Recovered."
    assert len(llm.requests) == 2
    if case in ("no_function_call", "empty_reply"):
        alert = events_seen(llm, 1)[-1]
        assert alert["type"] == "system_alert"
        assert "send_message" in alert["text"]
    else:
        failed = tool_results(llm, 1)[-1]
        assert failed["status"] == "Failed"
        assert failed["message"]


def test_bad_outputs_are_retried_a_bounded_number_of_times(make_agent):
    agent, llm = make_agent(lambda messages, functions: raw_call("send_message", "{oops"))
    response = agent.send("hello")
    assert response.stop_reason == StopReason.INVALID_FUNCTION_CALL
    assert len(llm.requests) == 3
    # the failed attempts are recorded, nothing is lost
    assert agent.store.count_messages(agent.id) == len(response.messages)


def test_only_the_first_of_several_calls_runs(make_agent):
    first = call("core_memory_append", label="human", content="A", request_heartbeat=True)
    second = call("core_memory_append", label="human", content="B")
    both = LLMReply(tool_calls=first.tool_calls + second.tool_calls)
    agent, llm = make_agent([both, call("send_message", message="ok")])
    agent.send("hi")
    assert agent.memory["human"].endswith("A")
    statuses = [r["status"] for r in tool_results(llm, 1)]
    assert statuses == ["OK", "Failed"]


def test_llm_error_is_a_typed_stop_and_keeps_the_message(make_agent):
    def policy(messages, functions):
        raise LLMError("The model endpoint is unreachable; check it is running.")

    agent, _ = make_agent(policy)
    response = agent.send("are you there?")
    assert response.stop_reason == StopReason.LLM_ERROR
    assert "unreachable" in response.error
    assert [m.text for m in agent.store.context_messages(agent.id)] == ["are you there?"]


def test_huge_function_result_is_truncated_with_a_note(make_agent):
    agent, llm = make_agent(
        [
            call("archival_memory_insert", content="word " * 3000, request_heartbeat=True),
            call("archival_memory_search", query="word", request_heartbeat=True),
            call("send_message", message="done"),
        ],
    )
    agent.send("remember this")
    result = tool_results(llm, 2)[-1]["message"]
    assert "[Result truncated" in result
    assert llm.count_tokens(result) <= 0.2 * 8192


def test_memory_edit_over_limit_is_a_failed_result(make_agent):
    agent, llm = make_agent(
        [
            call("core_memory_append", label="human", content="x" * 6000),
            call("send_message", message="I could not save all that."),
        ]
    )
    before = agent.memory["human"]
    agent.send("remember a lot")
    result = tool_results(llm, 1)[-1]
    assert result["status"] == "Failed"
    assert "limit" in result["message"]
    assert agent.memory["human"] == before
