"""A process that talks to an agent until it is killed; used by test_crash.py.

Each turn: the user says "msg i"; the agent appends "fact i" to its `facts` block
(with a heartbeat), then sends "ack i". After `send` returns, the turn is
acknowledged on stdout. Usage: python crash_child.py DB_PATH
"""

from __future__ import annotations

import json
import random
import sys
import time

from memgpt.client import MemGPT
from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.scripted import ScriptedLLM, call
from memgpt.schemas import Block, EmbeddingConfig


def policy(messages, functions):
    time.sleep(random.random() * 0.004)  # widen the windows a kill can land in
    start = max(
        i
        for i, m in enumerate(messages)
        if m.role == "user" and json.loads(m.content)["type"] == "user_message"
    )
    i = json.loads(messages[start].content)["message"].split()[1]
    since = messages[start + 1 :]
    if not since:
        return call(
            "core_memory_append", label="facts", content=f"fact {i}", request_heartbeat=True
        )
    answered = any(c.name == "send_message" for m in since for c in m.tool_calls)
    if json.loads(messages[-1].content).get("type") == "system_alert":
        # memory pressure: save a note, and carry on if the user still waits for the answer
        return call(
            "archival_memory_insert", content=f"up to turn {i}", request_heartbeat=not answered
        )
    return call("send_message", message=f"ack {i}")


def main() -> None:
    client = MemGPT(sys.argv[1])
    llm = ScriptedLLM(policy, context_window=8192)
    kwargs = {"llm": llm, "embedder": HashEmbedder()}
    if client.store.get_agent("crash") is None:
        client.create_agent(
            "crash",
            blocks=[Block(label="facts", value="", limit=100_000)],
            embedding=EmbeddingConfig(provider="hash"),
            **kwargs,
        )
    agent = client.get_agent("crash", **kwargs)
    done = sum(
        1 for m in agent.store.list_messages(agent.id, limit=10**6) if m.event == "user_message"
    )
    print("READY", flush=True)
    for i in range(done, done + 10_000):
        response = agent.send(f"msg {i}")
        assert response.text == f"ack {i}", response
        print(f"ACK {i}", flush=True)


if __name__ == "__main__":
    main()
