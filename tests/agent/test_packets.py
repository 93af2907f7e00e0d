"""What each step adds to main context is small: a function's status (and what it returned,
if anything), and the event with its time to the minute and the memory statistics. A small
model on a CPU reads every one of these tokens at every step, and attends to them ever
after."""

from __future__ import annotations

import io
import json
import re

from rich.console import Console

from memgpt.agent import events
from memgpt.cli.render import Renderer
from memgpt.llm.scripted import call, raw_call
from memgpt.schemas import Message, function_return, function_succeeded
from memgpt.server import wire

EDIT_THEN_REPLY = [
    call(
        "core_memory_append", "note it", label="human", content="Name: Ana", request_heartbeat=True
    ),
    call("send_message", "answer", message="Nice to meet you, Ana."),
]


def test_a_function_that_returned_nothing_reports_its_status_alone(make_agent):
    agent, llm = make_agent(EDIT_THEN_REPLY)
    agent.send("I'm Ana")
    results = [m for m in llm.requests[1][0] if m.role == "tool"]
    assert [json.loads(m.content) for m in results] == [{"status": "OK"}]
    assert events.function_result(True, "3 results") == '{"status": "OK", "message": "3 results"}'
    failed = json.loads(events.function_result(False, "No such block."))
    assert failed == {"status": "Failed", "message": "No such block."}


def test_events_are_timed_to_the_minute_and_statistics_are_counts(make_agent):
    agent, llm = make_agent(EDIT_THEN_REPLY)
    agent.send("I'm Ana")
    event = json.loads(llm.requests[0][0][-1].content)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", event["time"])
    assert event["memory_statistics"] == "1 messages in recall, 0 passages in archival"


def test_when_working_context_was_edited_heads_it(make_agent):
    """The time changes with the section, so it breaks no prefix of its own."""
    agent, llm = make_agent(EDIT_THEN_REPLY)
    before = agent.state.memory_edited_at
    agent.send("I'm Ana")
    first, second = (messages[1].content for messages, _ in llm.requests)
    assert first.startswith(f"### Working context (edited {before:%Y-%m-%d %H:%M} UTC)\n")
    edited = agent.state.memory_edited_at
    assert edited > before and "Name: Ana" in second
    assert second.startswith(f"### Working context (edited {edited:%Y-%m-%d %H:%M} UTC)\n")


def test_a_result_of_nothing_reads_as_before_in_the_api_and_the_terminal(make_agent):
    """Letta's tool return says "None"; `memgpt run` says OK. Results stored before, with
    "message": "None" and a time, read the same."""
    agent, _ = make_agent(EDIT_THEN_REPLY)
    agent.send("I'm Ana")
    history = agent.store.list_messages(agent.id, limit=10)
    [result] = [m for m in history if m.name == "core_memory_append"]
    old = result.model_copy(
        update={"text": '{"status": "OK", "message": "None", "time": "2026-01-02 03:04:05 UTC"}'}
    )
    for packed in (result, old):
        [returned] = wire.messages([packed], include_events=False)
        assert (returned["tool_return"], returned["status"]) == ("None", "success")
    assert function_return(result) is None and function_succeeded(result)
    plain = Message(role="tool", text="plain text", name="f", tool_call_id="c")
    assert function_return(plain) == "plain text" and function_succeeded(plain)
    shown = io.StringIO()
    Renderer(Console(file=shown), agent_name="Sam").messages([result])  # its call out of view
    assert "→ OK" in shown.getvalue()


def events_after_the_call(llm) -> list[dict]:
    """The events the model read at its second step, after its first step's result."""
    messages, _ = llm.requests[1]
    last_result = max(i for i, m in enumerate(messages) if m.role == "tool")
    return [json.loads(m.content) for m in messages[last_result + 1 :]]


def test_a_memory_pressure_alert_wakes_the_model_in_place_of_a_requested_heartbeat(
    make_agent,
):
    """Two events for one step cost a prefix cache both (a search's page, the heartbeat and
    the alert kept under 90% of the previous prompt); the alert alone is the step's reason."""
    agent, llm = make_agent(EDIT_THEN_REPLY)
    agent.state.memory_warning_fraction = 0.01  # the first step's commit passes it
    agent.store.save_agent(agent.state)
    agent.send("I'm Ana")
    [alert] = events_after_the_call(llm)
    assert alert["type"] == "system_alert" and alert["text"].startswith("Memory pressure")
    assert "memory_statistics" in alert


def test_a_heartbeat_that_says_what_to_do_stays_before_the_alert(make_agent):
    agent, llm = make_agent([raw_call("send_message", "{oops"), EDIT_THEN_REPLY[1]])
    agent.state.memory_warning_fraction = 0.01
    agent.store.save_agent(agent.state)
    agent.send("I'm Ana")
    heartbeat, alert = events_after_the_call(llm)
    assert heartbeat["text"] == events.HEARTBEAT_AFTER_FAILURE
    assert alert["type"] == "system_alert"
