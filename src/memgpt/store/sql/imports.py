"""Agent imports in progress, written once for both dialects.

A large import writes its agent's history in many short transactions, so other writers
take turns with it rather than wait for one long one. Until the import ends, its agent is
marked in `agent_imports`: no organization owns it and the store does not list it, so
clients see the agent whole or not at all. An import that fails deletes what it wrote;
one a crash cut short is deleted on the next start (`drop_unfinished_imports`).
"""

from __future__ import annotations

from memgpt.schemas import utcnow
from memgpt.store.sql.seam import Seam

DROP_BATCH = 500  # messages deleted a transaction, as an import writes them


class ImportsSQL(Seam):
    def begin_import(self, agent_id: str) -> None:
        """Mark a new agent as being imported; the caller holds the transaction that
        created it, so the agent is never visible unmarked."""
        self._run(
            "INSERT INTO agent_imports (agent_id, started_at) VALUES (?, ?)",
            (agent_id, self._ts(utcnow())),
        )

    def finish_import(self, agent_id: str) -> None:
        self._run("DELETE FROM agent_imports WHERE agent_id = ?", (agent_id,))

    def unfinished_imports(self) -> list[str]:
        return [r["agent_id"] for r in self._query("SELECT agent_id FROM agent_imports")]

    def drop_import(self, agent_id: str) -> None:
        """Delete an unfinished import's agent, its history a batch at a time."""
        while page := self.messages_page(agent_id, limit=DROP_BATCH):
            self.delete_messages(agent_id, [m.id for m in page])
        self.delete_agent(agent_id)

    def drop_unfinished_imports(self) -> int:
        """Delete the imports no process is still writing; return how many. Each import
        holds its agent's lock from the transaction that marked it until it ends, so
        waiting for the lock waits out an import another process is running."""
        dropped = 0
        for agent_id in self.unfinished_imports():
            with self.agent_lock(agent_id):
                if self._one("SELECT 1 FROM agent_imports WHERE agent_id = ?", (agent_id,)):
                    self.drop_import(agent_id)
                    dropped += 1
        return dropped
