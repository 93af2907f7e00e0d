"""Semantic recall's index on SQLite: one usearch HNSW graph per agent over its message
vectors (`memgpt.store.indexes.owners`, in `<db>.recall/`), caught up from the
`message_vectors` table when opened, exactly as archival's graphs are from `passages`.

The graph only proposes candidates: each is kept only while its row is still the
agent's (a deleted message's vector goes with it), asking deeper while too few are.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

from memgpt.store.indexes.owners import IndexSet
from memgpt.store.sql.seam import Seam

if TYPE_CHECKING:
    import numpy as np

MAX_OVERFETCH = 4096  # the most candidates asked of the graph for one search


class SQLiteMessageVectors(Seam):
    recall_indexes: IndexSet

    if TYPE_CHECKING:

        def _execute(self, sql: str, params: tuple | list = ()) -> sqlite3.Cursor: ...

    def _prepare_message_vectors(self, dims: set[int]) -> None:
        """Nothing to do: an agent's graph takes its vectors after the commit."""

    def _index_message_vectors(self, agent_id: str) -> None:
        # A tail too long to scan goes into the graph here, in the embedding worker.
        self.recall_indexes.owner_index(("agent_id", agent_id)).sync()

    def _recall_vector_ranking(
        self, agent_id: str, query: np.ndarray, depth: int
    ) -> list[tuple[int, float]]:
        k = depth
        while True:
            # As Python numbers: numpy scalars cost a microsecond or so each to convert,
            # hash and compare, for each of the k candidates.
            keys, scores = (
                found.tolist()
                for found in self.recall_indexes.search([("agent_id", agent_id)], query, k)
            )
            # The list first (CROSS JOIN keeps the order): each key is two lookups by pk.
            seqs = dict(
                self._execute(
                    "SELECT v.pk, m.seq FROM json_each(?) c CROSS JOIN message_vectors v"
                    " ON v.pk = c.value CROSS JOIN messages m ON m.pk = v.message_pk"
                    " WHERE v.agent_id = ?",
                    (json.dumps(keys), agent_id),
                ).fetchall()
            )
            hits = [(seqs[key], s) for key, s in zip(keys, scores, strict=True) if key in seqs]
            if len(hits) >= depth or len(keys) < k or k >= MAX_OVERFETCH:
                return hits[:depth]
            k *= 4
