"""Each step a run records carries the reason the chain stopped after it, the run's own
stop reason, or none when the chain went on: also when a memory-pressure alert keeps a
yielding step's chain going, and when the step bound or the failure bound ends it."""

from __future__ import annotations

from memgpt.agent import events
from memgpt.agent.agent import RunContext
from memgpt.llm.scripted import call, raw_call
from memgpt.schemas import StopReason
from memgpt.store.base import Run


def in_run(agent, text: str, **kwargs):
    run = Run(agent_id=agent.id, status="running")
    agent.store.create_run(run)
    response = agent.process(
        events.user_message(text), run=RunContext(run.id, lambda: False), **kwargs
    )
    steps = agent.store.list_steps([agent.id], run.id, 100, newest_first=False)
    return response, [s.stop_reason for s in steps]


def test_a_yielding_step_followed_by_a_memory_pressure_alert_did_not_stop_the_chain(
    make_agent,
):
    agent, llm = make_agent(
        [call("send_message", message="first"), call("send_message", message="noted")]
    )
    agent.state.memory_warning_fraction = 0.01  # the first step's commit passes it
    agent.store.save_agent(agent.state)
    response, reasons = in_run(agent, "hello")
    assert response.stop_reason == StopReason.END_TURN and response.steps == 2
    assert reasons == [None, StopReason.END_TURN]


def test_the_step_bound_is_the_last_steps_stop_reason(make_agent):
    def policy(messages, functions):
        return call("conversation_search", query="anything", request_heartbeat=True)

    agent, _ = make_agent(policy)
    response, reasons = in_run(agent, "hello", max_steps=2)
    assert response.stop_reason == StopReason.MAX_STEPS
    assert reasons == [None, StopReason.MAX_STEPS]


def test_the_failure_bound_is_the_last_steps_stop_reason(make_agent):
    agent, _ = make_agent(lambda messages, functions: raw_call("send_message", "{oops"))
    response, reasons = in_run(agent, "hello")
    assert response.stop_reason == StopReason.INVALID_FUNCTION_CALL
    assert reasons == [None, None, StopReason.INVALID_FUNCTION_CALL]


def test_a_warning_on_the_last_allowed_step_waits_for_the_next_step(make_agent):
    agent, llm = make_agent([call("send_message", message="hi")] * 3)
    agent.state.memory_warning_fraction = 0.01
    agent.store.save_agent(agent.state)
    response, reasons = in_run(agent, "hello", max_steps=1)
    assert response.stop_reason == StopReason.END_TURN and reasons == [StopReason.END_TURN]
    assert not agent.state.memory_warning_issued
    response, reasons = in_run(agent, "again")
    assert reasons == [None, StopReason.END_TURN]  # the warning came after this turn's step
    assert agent.state.memory_warning_issued
