"""Human approval in the loop (Python API): a call to a function the rules mark
`requires_approval` waits for the user; approved it runs and the chain goes on, denied it
is a failed result giving the reason. The waiting call is in the database: a reopened
agent still waits. On both store backends."""

from __future__ import annotations

import json

import pytest
from pydantic import TypeAdapter

from memgpt.agent.approval import ApprovalError
from memgpt.client import MemGPT
from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.scripted import ScriptedLLM, call
from memgpt.schemas import EmbeddingConfig, EventType, StopReason
from memgpt.tools.rules import ToolRule
from tests.store.backends import BACKENDS, store_opener

RULES = TypeAdapter(list[ToolRule])
APPEND = call(
    "core_memory_append", "Keep it.", label="human", content="figs", request_heartbeat=True
)
REPLY = call("send_message", "Tell them.", message="done")


@pytest.fixture(params=BACKENDS)
def opener(request, tmp_path):
    return store_opener(request.param, tmp_path)


def _agent(client: MemGPT, script):
    return client.create_agent(
        "careful",
        llm=ScriptedLLM(script),
        embedding=EmbeddingConfig(provider="hash"),
        embedder=HashEmbedder(),
        tool_rules=RULES.validate_python(
            [{"type": "requires_approval", "tool_name": "core_memory_append"}]
        ),
    )


def _results(response) -> list[dict]:
    return [json.loads(m.text) for m in response.messages if m.role == "tool"]


def test_an_approved_call_runs_and_the_chain_goes_on(opener):
    client = MemGPT(store=opener())
    agent = _agent(client, [APPEND, REPLY])
    asked = agent.send("remember figs")
    assert asked.stop_reason == StopReason.REQUIRES_APPROVAL
    assert "figs" not in agent.memory["human"]  # nothing ran
    waiting = agent.pending_approval()
    assert waiting is not None and waiting.tool_calls[0].asked_approval
    with pytest.raises(ApprovalError, match="approve or deny"):
        agent.send("hello?")
    done = agent.approve()
    assert done.stop_reason == StopReason.END_TURN and done.sent == ["done"]
    assert "figs" in agent.memory["human"]
    assert _results(done)[0]["status"] == "OK"
    assert agent.pending_approval() is None
    # The answer is kept in recall storage, out of main context.
    answers = [m for m in client.store.messages_page(agent.id, limit=50) if m.event == "approval"]
    assert len(answers) == 1 and not answers[0].in_context
    assert json.loads(answers[0].text)["approval_request_id"] == waiting.id
    assert all(m.event != EventType.APPROVAL for m in agent.queue)
    client.close()


def test_a_denial_is_the_failed_result_with_the_reason(opener):
    client = MemGPT(store=opener())
    agent = _agent(client, [APPEND, REPLY])
    agent.send("remember figs")
    done = agent.deny("figs are private")
    failed = _results(done)[0]
    assert failed["status"] == "Failed"
    assert failed["message"] == "Error: request to call tool denied. User reason: figs are private"
    assert "figs" not in agent.memory["human"]
    assert done.sent == ["done"] and done.stop_reason == StopReason.END_TURN
    client.close()


def test_the_waiting_call_survives_a_restart(opener):
    client = MemGPT(store=opener())
    agent = _agent(client, [APPEND])
    agent.send("remember figs")
    agent_id = agent.id
    client.close()

    again = MemGPT(store=opener())
    reopened = again.get_agent(agent_id, llm=ScriptedLLM([REPLY]), embedder=HashEmbedder())
    assert reopened.pending_approval() is not None
    assert reopened.heartbeat() is None  # nothing is processed until the user answers
    assert reopened.approve().sent == ["done"]
    assert "figs" in reopened.memory["human"]
    again.close()


def test_an_answer_with_nothing_waiting_is_refused(opener):
    client = MemGPT(store=opener())
    agent = _agent(client, [REPLY])
    with pytest.raises(ApprovalError, match="No tool call"):
        agent.approve()
    client.close()
