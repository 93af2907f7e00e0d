"""Conversation management over the API (what /pop and /rewrite do in the CLI): reset
the messages, edit a message, take a step out; main context and recall storage stay
consistent. On both store backends."""

from __future__ import annotations

import uuid

import httpx
import pytest


@pytest.fixture
def talked(http_a) -> str:
    agent_id = http_a.post("/v1/agents/", json={"name": f"c-{uuid.uuid4().hex[:6]}"}).json()["id"]
    for text in ("one", "two"):
        http_a.post(f"/v1/agents/{agent_id}/messages", json={"input": text}).raise_for_status()
    return agent_id


def listed(http, agent_id: str) -> list[dict]:
    return http.get(f"/v1/agents/{agent_id}/messages", params={"order": "asc"}).json()


def context(server, agent_id: str) -> list[str]:
    store = server.app.state.service.store
    return [m.text for m in store.context_messages(agent_id) if m.role == "user"]


def test_reset_messages_empties_main_context_and_keeps_recall(http_a, server, talked):
    before = len(listed(http_a, talked))
    reset = http_a.patch(f"/v1/agents/{talked}/reset-messages", json={})
    assert reset.status_code == 200 and reset.json()["id"] == talked
    assert context(server, talked) == []
    assert len(listed(http_a, talked)) == before
    reply = http_a.post(f"/v1/agents/{talked}/messages", json={"input": "fresh"}).json()
    assert reply["messages"][-1]["content"] == "echo: fresh"
    refused = http_a.patch(
        f"/v1/agents/{talked}/reset-messages", params={"add_default_initial_messages": "true"}
    )
    assert refused.status_code == 400 and "start with no messages" in refused.json()["detail"]


def test_edit_an_assistant_message_and_a_user_message(http_a, server, talked):
    [sent] = [m for m in listed(http_a, talked) if m["message_type"] == "assistant_message"][-1:]
    edited = http_a.patch(
        f"/v1/agents/{talked}/messages/{sent['id']}",
        json={"message_type": "assistant_message", "content": "a better answer"},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["message_type"] == "assistant_message"
    assert edited.json()["content"] == "a better answer"
    history = listed(http_a, talked)
    assert [m["content"] for m in history if m["message_type"] == "assistant_message"][-1] == (
        "a better answer"
    )
    assert "echo: two" in [m.get("content") for m in history]  # recall keeps the original
    [first] = [m for m in history if m["message_type"] == "user_message"][:1]
    reworded = http_a.patch(
        f"/v1/agents/{talked}/messages/{first['id']}",
        json={"message_type": "user_message", "content": [{"type": "text", "text": "uno"}]},
    )
    assert reworded.status_code == 200 and reworded.json()["content"] == "uno"
    assert context(server, talked) == ["uno", "two"]


def test_edit_refusals_say_what_to_do(http_a, talked):
    [user] = [m for m in listed(http_a, talked) if m["message_type"] == "user_message"][:1]
    system = http_a.patch(
        f"/v1/agents/{talked}/messages/{user['id']}",
        json={"message_type": "system_message", "content": "x"},
    )
    assert system.status_code == 400 and "`system`" in system.json()["detail"]
    wrong = http_a.patch(
        f"/v1/agents/{talked}/messages/{user['id']}",
        json={"message_type": "reasoning_message", "reasoning": "x"},
    )
    assert wrong.status_code == 400 and "no reasoning text" in wrong.json()["detail"]
    gone = http_a.patch(
        f"/v1/agents/{talked}/messages/message-nope",
        json={"message_type": "assistant_message", "content": "x"},
    )
    assert gone.status_code == 400 and "not in this agent's main context" in gone.json()["detail"]


def test_taking_a_step_out_keeps_it_in_recall(http_a, server, talked):
    [first] = [m for m in listed(http_a, talked) if m["message_type"] == "user_message"][:1]
    before = len(listed(http_a, talked))
    removed = http_a.delete(f"/v1/agents/{talked}/messages/{first['id']}")
    assert removed.status_code == 200
    assert [m["content"] for m in removed.json() if m["message_type"] == "user_message"] == ["one"]
    assert context(server, talked) == ["two"]
    assert len(listed(http_a, talked)) == before


def test_another_organizations_agent_is_not_found(server, talked):
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.key_b}"}
    ) as b:
        assert b.patch(f"/v1/agents/{talked}/reset-messages", json={}).status_code == 404
        assert b.delete(f"/v1/agents/{talked}/messages/x").status_code == 404
        edit = {"message_type": "assistant_message", "content": "pwned"}
        assert b.patch(f"/v1/agents/{talked}/messages/x", json=edit).status_code == 404
