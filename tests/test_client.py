"""The Python API: errors a user can cause read as one sentence; events besides messages."""

from __future__ import annotations

import pytest

from memgpt.errors import AgentNotFoundError
from memgpt.llm.base import LLMError
from memgpt.llm.scripted import call
from memgpt.schemas import LLMConfig, StopReason, utcnow


def test_unknown_agent_says_how_to_find_the_real_ones(client):
    with pytest.raises(AgentNotFoundError, match="memgpt list agents"):
        client.get_agent("nobody")
    with pytest.raises(AgentNotFoundError):
        client.delete_agent("nobody")


def test_missing_api_key_for_a_remote_model_is_one_sentence(client, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    from memgpt.llm import create_llm

    llm = create_llm(LLMConfig(provider="openai", model="gpt-4o-mini"))
    with pytest.raises(LLMError, match="OPENAI_API_KEY") as info:
        llm.chat([], [{"name": "f", "description": "", "parameters": {"type": "object"}}])
    assert str(info.value).count(".") <= 3 and "\n" not in str(info.value)


def test_login_event_wakes_the_agent(make_agent):
    agent, llm = make_agent([call("send_message", message="Welcome back!")])
    response = agent.login()
    assert response.text == "Welcome back!"
    assert response.messages[0].event == "login"


def test_paused_heartbeats_are_skipped_until_the_pause_ends(make_agent):
    agent, llm = make_agent(
        [call("pause_heartbeats", minutes=30), call("send_message", message="thinking of you")]
    )
    agent.send("leave me alone for a while")
    assert agent.heartbeat() is None
    agent.state.heartbeats_paused_until = None
    agent.store.save_agent(agent.state)
    response = agent.heartbeat()
    assert response.stop_reason == StopReason.END_TURN
    assert response.messages[0].event == "heartbeat"


def test_a_timed_heartbeat_is_skipped_when_an_event_came_after_the_quiet_time(make_agent):
    """Two schedulers (two server processes) finding an agent due send it one heartbeat."""
    agent, llm = make_agent([call("send_message", message="hi"), call("send_message", message="?")])
    before = utcnow()
    agent.send("hello")
    assert agent.heartbeat(quiet_since=before) is None
    assert agent.heartbeat(quiet_since=utcnow()).messages[0].event == "heartbeat"


def test_deleting_an_agent(client, make_agent):
    make_agent([], name="gone")
    client.delete_agent("gone")
    assert [a.name for a in client.list_agents()] == []
