"""Semantic recall, written once for both dialects: message vectors and hybrid search.

The embedding worker (`memgpt.memory.recall_embedding`) reads the messages above an
agent's mark, embeds the searchable ones off the step's critical path, and stores
their vectors with the new mark in one transaction; each dialect indexes them
(usearch on SQLite, pgvector on PostgreSQL). `search_recall` fuses the full-text
ranking, exactly as `search_messages` gives it, with the vector ranking
(`memgpt.store.fusion`); both go `RECALL_DEPTH` deep for every page, so a query's
total and its pages do not depend on the page asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from memgpt.schemas import Message
from memgpt.store.fusion import fuse
from memgpt.store.sql.seam import Seam
from memgpt.store.sql.store import MESSAGE_COLUMNS

if TYPE_CHECKING:
    import numpy as np

RECALL_DEPTH = 100  # candidates each ranking gives fusion, as archival's CANDIDATE_DEPTH


class RecallVectorsSQL(Seam):
    def messages_to_embed(self, agent_id: str, limit: int) -> list[Message]:
        """The agent's oldest `limit` messages above its mark, oldest first."""
        rows = self._query(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE agent_id = ? AND seq > COALESCE("
            "(SELECT seq FROM recall_embedded WHERE agent_id = ?), 0) ORDER BY seq LIMIT ?",
            (agent_id, agent_id, limit),
        )
        return [self._message(r) for r in rows]

    def unembedded_counts(self) -> dict[str, int]:
        """Per agent with any, how many messages are above its mark (for a backfill)."""
        rows = self._query(
            "SELECT m.agent_id, COUNT(*) AS n FROM messages m"
            " LEFT JOIN recall_embedded e ON e.agent_id = m.agent_id"
            " WHERE m.seq > COALESCE(e.seq, 0) GROUP BY m.agent_id ORDER BY m.agent_id"
        )
        return {r["agent_id"]: r["n"] for r in rows}

    def add_message_vectors(
        self, agent_id: str, vectors: list[tuple[str, np.ndarray]], through_seq: int
    ) -> None:
        """Store (message id, embedding) pairs of the agent's and move its mark to
        `through_seq`, together. A message already embedded (another process got there
        first) keeps its vector; a message deleted meanwhile is skipped."""
        with self.transaction():
            self._prepare_message_vectors({len(v) for _, v in vectors})
            self._run_many(
                "INSERT INTO message_vectors (message_pk, agent_id, embedding)"
                " SELECT pk, agent_id, ? FROM messages WHERE agent_id = ? AND id = ?"
                " ON CONFLICT (message_pk) DO NOTHING",
                [(self._vector(v.tolist()), agent_id, message_id) for message_id, v in vectors],
            )
            self._run(
                "INSERT INTO recall_embedded (agent_id, seq) SELECT id, ? FROM agents WHERE id = ?"
                " ON CONFLICT (agent_id) DO UPDATE SET seq = CASE"
                " WHEN excluded.seq > recall_embedded.seq THEN excluded.seq"
                " ELSE recall_embedded.seq END",
                (through_seq, agent_id),
            )

    def index_message_vectors(self, agent_id: str) -> None:
        """Index the agent's newly stored vectors now, rather than in the next search (the
        worker calls it after a catch-up, not after each batch: a backfill of a long
        history then builds its graph once)."""
        self._index_message_vectors(agent_id)

    def search_recall(
        self,
        agent_id: str,
        query: str,
        embedding: np.ndarray | None,
        limit: int,
        offset: int = 0,
        floor: float | None = None,
    ) -> tuple[list[Message], int]:
        """A page of the agent's messages best first by the fusion of full text and
        meaning, and how many fused results there are (what paging can reach). Vector
        hits no more similar than `floor` are left out (`memgpt.memory.relevance`).

        Both rankings are of seqs, and only the page's messages are read: reading and
        parsing the 100 + 100 candidates was half of a search (100k messages)."""
        text = self._recall_text_ranking(agent_id, query, RECALL_DEPTH)
        vector = [] if embedding is None else self._vector_seqs(agent_id, embedding, RECALL_DEPTH)
        if floor is not None:
            vector = [(seq, s) for seq, s in vector if s > floor]
        fused = fuse([seq for seq, _ in vector], text)
        page = [seq for seq, _ in fused[offset : offset + limit]]
        return self._messages_by_seq(agent_id, page), len(fused)

    def recall_vector_ranking(
        self, agent_id: str, embedding: np.ndarray, depth: int = RECALL_DEPTH
    ) -> list[tuple[str, float]]:
        """The agent's `depth` embedded messages most similar to `embedding`, as
        (message id, cosine), best first."""
        ranking = self._vector_seqs(agent_id, embedding, depth)
        ids = {m.seq: m.id for m in self._messages_by_seq(agent_id, [s for s, _ in ranking])}
        return [(ids[seq], score) for seq, score in ranking if seq in ids]

    def _vector_seqs(
        self, agent_id: str, embedding: np.ndarray, depth: int
    ) -> list[tuple[int, float]]:
        import numpy as np  # on first use: the server and `memgpt run` start without it

        return self._recall_vector_ranking(agent_id, np.asarray(embedding, np.float32), depth)
