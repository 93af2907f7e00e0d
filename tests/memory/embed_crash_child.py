"""A process that commits one step and is SIGKILLed before its messages are embedded:
the kill lands where the agent hands them to the embedding worker. Used by
test_semantic_recall.py. Usage: python embed_crash_child.py sqlite PATH | postgres URI
"""

from __future__ import annotations

import os
import signal
import sys

from memgpt.client import MemGPT
from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.scripted import ScriptedLLM, call
from memgpt.memory import recall_embedding
from memgpt.schemas import EmbeddingConfig
from memgpt.store.dialects.sqlite import SQLiteStore


class KilledBeforeEmbedding(recall_embedding.EmbeddingWorker):
    def submit(self, store, embedder, agent_id) -> None:
        if store.last_seq(agent_id):  # a step has committed (not the agent's creation)
            os.kill(os.getpid(), signal.SIGKILL)


def main(backend: str, target: str) -> None:
    if backend == "postgres":
        from memgpt.store.dialects.postgres import PostgresStore

        store = PostgresStore(target)
    else:
        store = SQLiteStore(target)
    recall_embedding.WORKER = KilledBeforeEmbedding()
    client = MemGPT(store=store)
    agent = client.create_agent(
        "sam",
        llm=ScriptedLLM([call("send_message", message="The ferry leaves at dawn from pier nine")]),
        embedding=EmbeddingConfig(provider="hash"),
        embedder=HashEmbedder(),
    )
    agent.send("when does the boat go?")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
