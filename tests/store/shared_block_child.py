"""A process whose agent appends to a block it shares with another process's agent; used
by test_shared_blocks.py.

Usage: python shared_block_child.py BACKEND TARGET AGENT EVENTS, where BACKEND is sqlite
(TARGET a file) or postgres (TARGET a connection string). Each event is one step: the
agent appends "AGENT i" to the shared `facts` block. The model sleeps first, so the other
process's edits land between this agent's reading of its state and its own edit.
"""

from __future__ import annotations

import json
import sys
import time

from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.scripted import ScriptedLLM, call
from tests.store.processes import client_for


def main() -> None:
    backend, target, name, count = sys.argv[1:5]
    client = client_for(backend, target)

    def policy(messages, functions):
        time.sleep(0.03)  # the LLM call: the other agent edits meanwhile
        packet = json.loads(messages[-1].content)
        if packet["type"] != "user_message":  # a memory-pressure alert: nothing to append
            return call("send_message", message="ok")
        return call("core_memory_append", label="facts", content=packet["message"])

    agent = client.get_agent(name, llm=ScriptedLLM(policy), embedder=HashEmbedder())
    print("READY", flush=True)
    sys.stdin.readline()  # go: both processes start sending at once
    for i in range(int(count)):
        agent.send(f"{name} {i}")
    client.close()


if __name__ == "__main__":
    main()
