"""Agents talking to agents through the server (scripted models on both ends): an answer
comes back, loops and deep exchanges stop with a failed result, a tag broadcast reaches
each tagged agent once and no more than the bound, and every exchange is in both agents'
recall storage. On both store backends."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid

import httpx
import pytest

MULTI = [
    "send_message_to_agent_and_wait_for_reply",
    "send_message_to_agent_async",
    "send_message_to_agents_matching_tags",
]


@pytest.fixture
def make(http_a):
    def make(tags: list[str] | None = None) -> str:
        body = {"name": f"m-{uuid.uuid4().hex[:6]}", "tools": MULTI, "tags": tags or []}
        created = http_a.post("/v1/agents/", json=body)
        assert created.status_code == 200, created.text
        return created.json()["id"]

    return make


def ask(http, agent_id: str, text: str) -> list[dict]:
    reply = http.post(f"/v1/agents/{agent_id}/messages", json={"input": text})
    assert reply.status_code == 200, reply.text
    return reply.json()["messages"]


def result(messages: list[dict]) -> dict:
    """The first function result: its status and text."""
    found = next(m for m in messages if m["message_type"] == "tool_return_message")
    return {"status": found["status"], "message": found["tool_return"]}


def history(http, agent_id: str) -> list[str]:
    listed = http.get(f"/v1/agents/{agent_id}/messages", params={"order": "asc"}).json()
    return [str(m.get("content") or m.get("tool_return") or "") for m in listed]


def test_an_agent_asks_another_and_gets_its_answer(http_a, make):
    a, b = make(), make()
    messages = ask(http_a, a, f"ask {b} what is new")
    answer = json.loads(result(messages)["message"])
    assert answer == {"agent_id": b, "response": ["echo: what is new"]}
    assert messages[-1]["content"].startswith("done: ")
    # In both agents' recall storage: the question in b's, the call and answer in a's.
    assert any(f"Incoming message from agent with ID '{a}'" in t for t in history(http_a, b))
    assert any("echo: what is new" in t for t in history(http_a, a))


def test_a_loop_between_two_agents_stops_with_a_failed_result(http_a, make):
    a, b = make(), make()
    messages = ask(http_a, a, f"ask {b} ask {a} hello")
    answer = json.loads(result(messages)["message"])
    [b_reply] = answer["response"]
    assert b_reply.startswith("done: ") and "already waiting in this exchange" in b_reply
    # a is usable again afterwards (its window is small: a memory-pressure alert may follow).
    assert "echo: still there" in [m.get("content") for m in ask(http_a, a, "still there")]


def test_an_exchange_deeper_than_the_bound_is_refused(http_a, make, server):
    service = server.app.state.service
    service.messaging = dataclasses.replace(service.messaging, depth=2)
    for agent_id in list(service._open):
        service.forget(agent_id)
    try:
        a, b, c, d = make(), make(), make(), make()
        messages = ask(http_a, a, f"ask {b} ask {c} ask {d} hi")
        deepest = json.dumps(result(messages))
        assert "already 2 messages deep" in deepest
        assert not [t for t in history(http_a, d) if "Incoming message" in t]
    finally:
        service.messaging = dataclasses.replace(service.messaging, depth=3)
        for agent_id in list(service._open):
            service.forget(agent_id)


def test_a_tag_broadcast_reaches_each_tagged_agent(http_a, make):
    tag = f"team-{uuid.uuid4().hex[:6]}"
    a = make([tag])
    b, c = make([tag]), make([tag])
    make(["other"])
    answers = json.loads(result(ask(http_a, a, f"broadcast {tag} status?"))["message"])
    assert {x["agent_id"] for x in answers} == {b, c}  # not the sender, not the untagged
    assert all(x["response"] == ["echo: status?"] for x in answers)


def test_a_broadcast_past_the_fan_out_bound_is_refused(http_a, make, server):
    tag = f"crowd-{uuid.uuid4().hex[:6]}"
    limit = server.app.state.service.messaging.fan_out
    a = make([tag])
    others = [make([tag]) for _ in range(limit + 1)]
    refused = result(ask(http_a, a, f"broadcast {tag} hello all"))
    assert refused["status"] == "error"
    assert f"{limit + 1} agents match those tags" in refused["message"]
    assert not [t for t in history(http_a, others[0]) if "Incoming message" in t]


def test_an_async_message_is_processed_in_the_background(http_a, make):
    a, b = make(), make()
    sent = result(ask(http_a, a, f"tell {b} for your records"))
    assert sent["message"] == "Successfully sent message"
    deadline = time.monotonic() + 20
    while not any("echo: for your records" in t for t in history(http_a, b)):
        assert time.monotonic() < deadline, "the async message was never processed"
        time.sleep(0.05)
    assert any("one-way notification" in t for t in history(http_a, b))


def test_another_organizations_agent_cannot_be_messaged(http_a, server, make):
    a = make()
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.key_b}"}
    ) as b:
        theirs = b.post("/v1/agents/", json={"name": "theirs"}).json()["id"]
    refused = result(ask(http_a, a, f"ask {theirs} hello"))
    assert refused["status"] == "error" and "no agent" in refused["message"]
