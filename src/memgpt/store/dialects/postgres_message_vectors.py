"""Semantic recall's index on PostgreSQL: pgvector over `message_vectors`, searched as
archival's passages are (`postgres_archival.py`): exactly for an agent with few
vectors, through the HNSW index of their dimension for one with many."""

from __future__ import annotations

from typing import TYPE_CHECKING

from memgpt.store.sql.seam import Ranking, Scope, Seam

if TYPE_CHECKING:
    import numpy as np


class PostgresMessageVectors(Seam):
    if TYPE_CHECKING:  # from PostgresArchival

        def _ensure_vector_index(self, dim: int, table: str = "passages") -> None: ...
        def _vector_ranking(
            self, scope: Scope, query: np.ndarray, depth: int, table: str = "passages"
        ) -> Ranking: ...

    def _prepare_message_vectors(self, dims: set[int]) -> None:
        for dim in dims:
            self._ensure_vector_index(dim, "message_vectors")

    def _index_message_vectors(self, agent_id: str) -> None:
        """Nothing to do: PostgreSQL updates the HNSW index in the inserting transaction."""

    def _recall_vector_ranking(
        self, agent_id: str, query: np.ndarray, depth: int
    ) -> list[tuple[int, float]]:
        scope = Scope([], "p.agent_id = ?", [agent_id], filtered=False)
        ranking = self._vector_ranking(scope, query, depth, "message_vectors")
        if not ranking:
            return []
        where, params = self._any("v.pk", [pk for pk, _ in ranking])
        seqs = {
            r["pk"]: r["seq"]
            for r in self._query(
                "SELECT v.pk, m.seq FROM message_vectors v JOIN messages m ON m.pk = v.message_pk"
                f" WHERE {where}",
                params,
            )
        }
        return [(seqs[pk], score) for pk, score in ranking if pk in seqs]
