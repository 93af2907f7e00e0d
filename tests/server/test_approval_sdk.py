"""Human approval through the official SDK, unchanged: this file runs with the 1.x line
in the main environment and with 0.1.307 in .venv-sdk01 (both lines have these calls)."""

from __future__ import annotations

import uuid

import pytest

from tests.server.sdk import SDK, APIError


@pytest.fixture
def sdk(server):
    return SDK(server.url, server.key_a)


@pytest.fixture
def agent(sdk):
    rule = sdk.tool_rule("requires_approval", tool_name="core_memory_append")
    return sdk.create_agent(f"careful-{uuid.uuid4().hex[:6]}", tool_rules=[rule])


def _request(sdk, agent):
    asked = sdk.send(agent.id, "remember figs")
    assert asked.stop_reason.stop_reason == "requires_approval"
    request = asked.messages[-1]
    assert request.message_type == "approval_request_message"
    assert request.tool_call.name == "core_memory_append"
    return request


def test_an_approval_granted(sdk, agent):
    request = _request(sdk, agent)
    with pytest.raises(APIError) as refused:
        sdk.send(agent.id, "hello?")
    assert refused.value.status_code == 400
    done = sdk.answer(agent.id, request.id, True)
    assert done.messages[0].message_type == "tool_return_message"
    assert done.messages[0].status == "success"
    assert "figs" in sdk.get_block(agent.id, "human").value
    kinds = [m.message_type for m in sdk.list_messages(agent.id)]
    assert "approval_request_message" in kinds and "approval_response_message" in kinds


def test_an_approval_denied(sdk, agent):
    request = _request(sdk, agent)
    done = sdk.answer(agent.id, request.id, False, "figs are private")
    assert done.messages[0].status == "error"
    assert "User reason: figs are private" in done.messages[0].tool_return
    assert "figs" not in sdk.get_block(agent.id, "human").value
    with pytest.raises(APIError) as refused:
        sdk.answer(agent.id, request.id, True)
    assert refused.value.status_code == 400


def test_the_per_agent_switch(sdk):
    agent = sdk.create_agent(f"switched-{uuid.uuid4().hex[:6]}")
    sdk.set_approval(agent.id, "core_memory_append", True)
    rules = sdk.agents.retrieve(agent.id).tool_rules
    assert [(r.type, r.tool_name) for r in rules] == [("requires_approval", "core_memory_append")]
    request = _request(sdk, agent)
    sdk.answer(agent.id, request.id, True)
    sdk.set_approval(agent.id, "core_memory_append", False)
    assert sdk.agents.retrieve(agent.id).tool_rules == []
    assert sdk.send(agent.id, "remember plums").stop_reason.stop_reason == "end_turn"
