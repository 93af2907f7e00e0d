"""Agents talking to agents below the server: an `AgentMessenger` over agents a client
opened (both scripted), and an agent without a messenger told it cannot."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from memgpt.agent.multi_agent import AgentMessenger
from memgpt.errors import MemGPTError
from memgpt.llm.scripted import ScriptedLLM, call

ASK = "send_message_to_agent_and_wait_for_reply"


def tool_results(response) -> list[dict]:
    return [json.loads(m.text) for m in response.messages if m.role == "tool"]


def with_multi_agent_tools(agent):
    agent.state.tool_names = ["send_message", ASK]
    agent.store.save_agent(agent.state)
    return type(agent)(agent.state, agent.store, agent.llm, agent.embedder)


def test_an_agent_without_a_messenger_is_told_it_cannot(make_agent):
    agent, _ = make_agent([call(ASK, message="hi", other_agent_id="agent-x")])
    agent = with_multi_agent_tools(agent)
    [result] = tool_results(agent.send("ask"))
    assert result["status"] == "Failed" and "not available here" in result["message"]


def test_a_messenger_delivers_and_returns_the_reply(make_agent):
    b, _ = make_agent([call("send_message", message="four")], name="b")
    a, _ = make_agent([call(ASK, message="2+2?", other_agent_id=b.id)], name="a")
    a = with_multi_agent_tools(a)
    agents = {a.id: a, b.id: b}
    with ThreadPoolExecutor(1) as pool:
        a.messenger = AgentMessenger(
            agents.get, lambda: [(x.id, x.state.tags) for x in agents.values()], pool
        )
        [result] = tool_results(a.send("ask b"))
    assert json.loads(result["message"]) == {"agent_id": b.id, "response": ["four"]}
    incoming = [m.text for m in b.store.list_messages(b.id, limit=10) if m.role == "user"]
    assert incoming == [
        f"[Incoming message from agent with ID '{a.id}' - your response will be delivered to the sender] 2+2?"
    ]


def test_agents_of_the_python_api_message_each_other(make_agent):
    b, _ = make_agent([call("send_message", message="four")], name="b")
    a, _ = make_agent(
        [call(ASK, message="2+2?", other_agent_id=b.id, request_heartbeat=True)],
        name="a",
        tools=["send_message", ASK],
    )
    [result] = tool_results(a.send("ask b"))
    assert result["status"] == "OK"
    assert json.loads(result["message"]) == {"agent_id": b.id, "response": ["four"]}
    assert [m.text for m in b.store.list_messages(b.id, limit=10) if m.role == "user"][-1] == (
        f"[Incoming message from agent with ID '{a.id}' - your response will be delivered to the sender] 2+2?"
    )


def test_the_python_api_refuses_a_function_it_lacks(client):
    with pytest.raises(MemGPTError, match="There is no function 'teleport'; choose among: "):
        client.create_agent("x", llm=ScriptedLLM([]), tools=["teleport"])
