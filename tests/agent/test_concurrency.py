"""Invariant 6: one agent processes one event at a time; different agents run concurrently."""

from __future__ import annotations

import json
import threading
import time

from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.scripted import ScriptedLLM, call


def slow_policy(log: list, name: str):
    def policy(messages, functions):
        last = json.loads(messages[-1].content)
        log.append((name, "start", time.monotonic()))
        time.sleep(0.05)
        log.append((name, "end", time.monotonic()))
        if last.get("type") == "user_message":
            return call(
                "core_memory_append", label="human", content=last["message"], request_heartbeat=True
            )
        return call("send_message", message="ok")

    return policy


def test_one_event_at_a_time_per_agent(client, make_agent):
    log: list = []
    agent, _ = make_agent(slow_policy(log, "sam"))
    # a second handle on the same agent, as a server request handler would open
    other = client.get_agent(
        "sam", llm=ScriptedLLM(slow_policy(log, "sam")), embedder=HashEmbedder()
    )
    threads = [
        threading.Thread(target=handle.send, args=(f"turn {i}",))
        for i, handle in enumerate([agent, other, agent, other])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    messages = agent.store.list_messages(agent.id, limit=1000)
    # each turn's six messages are contiguous: no interleaving of two events
    turns = [m.text for m in messages if m.event == "user_message"]
    assert sorted(turns) == [f"turn {i}" for i in range(4)]
    starts = [i for i, m in enumerate(messages) if m.event == "user_message"]
    assert starts == [0, 6, 12, 18]
    # and the memory edits of all four turns survived (no lost update)
    reopened = client.get_agent("sam", llm=ScriptedLLM([]), embedder=HashEmbedder())
    assert sorted(reopened.memory["human"].splitlines()[1:]) == sorted(turns)


def test_different_agents_run_concurrently(make_agent):
    """Each agent's model call waits for the other's to begin: they both get past only if
    the two run at once (an event, not a timing, so a loaded machine cannot fail it)."""
    started = {"a": threading.Event(), "b": threading.Event()}
    met: list[str] = []

    def meeting(name: str, other: str):
        def policy(messages, functions):
            started[name].set()
            if started[other].wait(20):
                met.append(name)
            return call("send_message", message="ok")

        return policy

    a, _ = make_agent(meeting("a", "b"), name="a")
    b, _ = make_agent(meeting("b", "a"), name="b")
    threads = [threading.Thread(target=x.send, args=("hello",)) for x in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(met) == ["a", "b"], "the two agents did not run at once"
