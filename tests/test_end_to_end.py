"""The whole MemGPT cycle with a scripted model: save a fact, let it scroll out of view,
find it again in recall storage, and find everything again after reopening from disk."""

from __future__ import annotations

import json

from memgpt.client import MemGPT
from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.scripted import ScriptedLLM, call
from memgpt.schemas import EmbeddingConfig, StopReason

FACT = "My sister Ines was born in Porto in 1994"


def policy(messages, functions):
    last = json.loads(messages[-1].content) if messages[-1].role in ("user", "tool") else {}
    if last.get("type") == "user_message":
        text = last["message"]
        if text == FACT:
            return call(
                "core_memory_append",
                "a family fact worth keeping",
                label="human",
                content="Sister: Ines, born in Porto, 1994",
                request_heartbeat=True,
            )
        if text.startswith("Where was"):
            return call(
                "conversation_search",
                "look it up in recall",
                query="sister Ines born",
                request_heartbeat=True,
            )
        # Not "Noted.": the hash embedder puts "noted" in the same slot as a word of the
        # question, and 200 replies alike would be the vector side's best matches.
        return call("send_message", message="Understood.")
    if last.get("type") == "system_alert":
        return call(
            "archival_memory_insert", "save before eviction", content="User has a sister, Ines."
        )
    result = json.loads(messages[-2].content) if messages[-2].role == "tool" else {}
    if last.get("type") == "heartbeat" and result.get("message", "").startswith("Showing results"):
        hits = json.loads(result["message"].split("\n", 1)[1])
        told = next(h["text"] for h in hits if h["from"] == "user" and not h["text"].endswith("?"))
        return call("send_message", message=f"You told me: {told}")
    return call("send_message", message="Got it.")


def open_agent(path):
    client = MemGPT(path)
    llm = ScriptedLLM(policy, context_window=8192)
    return client, llm, {"llm": llm, "embedder": HashEmbedder()}


def test_fact_survives_eviction_and_restart(tmp_path):
    path = tmp_path / "memgpt.db"
    client, llm, clients = open_agent(path)
    agent = client.create_agent("sam", embedding=EmbeddingConfig(provider="hash"), **clients)

    first = agent.send(FACT)
    assert first.stop_reason == StopReason.END_TURN
    assert "Sister: Ines" in agent.memory["human"]
    first_id = first.messages[0].id

    for i in range(200):
        agent.send(f"Filler message {i} about the weather, the news and nothing in particular.")

    queue_ids = {m.id for m in agent.store.context_messages(agent.id)}
    assert first_id not in queue_ids, "message 1 left main context"
    assert agent.state.summary, "a recursive summary was made"
    everything = agent.store.list_messages(agent.id, limit=10**6)
    assert any("Memory pressure" in m.text for m in everything), "the warning was seen"
    assert agent.store.count_passages(agent.id) >= 1, "the agent saved a note when warned"

    answer = agent.send("Where was my sister born?")
    assert answer.text == f"You told me: {FACT}"
    client.close()

    client, _, clients = open_agent(path)
    again = client.get_agent("sam", **clients)
    assert "Sister: Ines" in again.memory["human"]
    assert again.state.summary == agent.state.summary
    assert [m.id for m in again.store.list_messages(again.id, limit=10**6)][: len(everything)] == [
        m.id for m in everything
    ]
    assert again.send("Where was my sister born?").text == f"You told me: {FACT}"
    client.close()
