"""A process sending events to a shared agent; used by test_agent_lock.py.

Usage: python agent_lock_child.py BACKEND TARGET LOG TAG EVENTS, where BACKEND is
sqlite (TARGET a file) or postgres (TARGET a connection string). Each event takes
two steps: the agent appends "TAG i" to its `facts` block (with a heartbeat), then
answers. The model writes "in"/"out" lines to LOG around the event's LLM calls,
sleeping in between, so another process's event interleaving would show there.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.scripted import ScriptedLLM, call
from tests.store.processes import client_for


def main() -> None:
    backend, target, log_path, tag, count = sys.argv[1:6]
    client = client_for(backend, target)
    log = Path(log_path)

    def write(line: str) -> None:
        with log.open("a") as f:  # one append per line: the processes share the file
            f.write(line + "\n")

    def policy(messages, functions):
        start = max(
            i
            for i, m in enumerate(messages)
            if m.role == "user" and json.loads(m.content)["type"] == "user_message"
        )
        event = json.loads(messages[start].content)["message"]
        if not messages[start + 1 :]:
            write(f"in {event}")
            time.sleep(0.05)  # the LLM call, between the step's transactions
            return call("core_memory_append", label="facts", content=event, request_heartbeat=True)
        write(f"out {event}")
        return call("send_message", message=f"done {event}")

    agent = client.get_agent("shared", llm=ScriptedLLM(policy), embedder=HashEmbedder())
    print("READY", flush=True)
    sys.stdin.readline()  # go: both processes start sending at once
    for i in range(int(count)):
        agent.send(f"{tag} {i}")
    client.close()


if __name__ == "__main__":
    main()
