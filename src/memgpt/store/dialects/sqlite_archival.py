"""Archival indexes of the SQLite store: tantivy's BM25 (`memgpt.store.indexes.text`) and
usearch's HNSW graphs (`memgpt.store.indexes.owners`), one of each per owner, beside the
database file.

They only propose candidates: each ranking keeps those still in `passages` and in
scope and filters (`memgpt.store.sql.archival`), asking deeper while too few are.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
from typing import TYPE_CHECKING

from memgpt.store.indexes.owners import IndexSet
from memgpt.store.indexes.text import TextIndex
from memgpt.store.sql import archival
from memgpt.store.sql.seam import Owner, Ranking, Scope, Seam

if TYPE_CHECKING:
    import numpy as np

MAX_OVERFETCH = 4096  # the most candidates fetched to satisfy a filter


class SQLiteArchival(Seam):
    indexes: IndexSet
    text_index: TextIndex

    if TYPE_CHECKING:

        def _execute(self, sql: str, params: tuple | list = ()) -> sqlite3.Cursor: ...

    def _add_passages(self, rows: list[tuple]) -> None:
        """Insert passages with explicit pks, never used before (the indexes rely on it).

        Runs inside the caller's transaction, which holds SQLite's write lock, so the
        pks taken from `passage_pks` cannot be taken by another writer meanwhile.
        """
        start = self._one("SELECT last FROM passage_pks")["last"] + 1
        self._run_many(
            "INSERT INTO passages (pk, id, agent_id, source_id, file_pk, text, embedding, source,"
            " page, char_offset, chunk_hash, tags, metadata, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(pk, *row) for pk, row in enumerate(rows, start=start)],
        )
        self._run("UPDATE passage_pks SET last = ?", (start + len(rows) - 1,))

    def _dropped(self, owner: Owner, pks: list[int] | None = None) -> None:
        if pks is None:
            self.indexes.drop(owner)
            self.text_index.drop(owner)
        else:
            self.indexes.forget(owner, pks)
            self.text_index.forget(owner, pks)

    def flush_index(self) -> None:
        """Put every passage written so far into the indexes and save them."""
        owners: list[Owner] = [
            *(("agent_id", r["id"]) for r in self._query("SELECT id FROM agents")),
            *(("source_id", r["id"]) for r in self._query("SELECT id FROM sources")),
        ]
        self.indexes.flush(owners)
        self.text_index.sync(owners)

    def _text_ranking(self, scope: Scope, query: str, depth: int) -> Ranking:
        """BM25's best `depth` passages in scope and filters, by the scope's statistics:
        deeper while the filters drop too many."""
        k = depth
        while True:
            ranked = self.text_index.search(query, k, scope.owners)
            kept = self._kept([pk for pk, _ in ranked], scope)
            hits = [(pk, score) for pk, score in ranked if pk in kept]
            if len(hits) >= depth or len(ranked) < k or k >= MAX_OVERFETCH:
                return hits[:depth]
            k *= 4

    def _kept(self, pks: list[int], scope: Scope) -> set[int]:
        # CROSS JOIN makes SQLite walk the candidates and look each pk up, instead of
        # scanning the whole scope through the agent or source index.
        rows = self._execute(
            "SELECT p.pk FROM json_each(?) c CROSS JOIN passages p ON p.pk = c.value"
            f" WHERE {scope.where}",
            (json.dumps(pks), *scope.params),
        )
        return {r[0] for r in rows}

    def _subset_size(self, scope: Scope, cap: int) -> int:
        return self._execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM passages p WHERE {scope.where} LIMIT ?)",
            (*scope.params, cap),
        ).fetchone()[0]

    def _exact_ranking(self, scope: Scope, query: np.ndarray, depth: int) -> Ranking:
        """Brute force over the (small) filtered subset, streamed so memory stays flat."""
        import numpy as np  # on first use: the server and `memgpt run` start without it

        cursor = self._execute(
            f"SELECT p.pk, p.embedding FROM passages p WHERE {scope.where}"
            " AND p.embedding IS NOT NULL",
            scope.params,
        )
        best: list[tuple[float, int]] = []
        while rows := cursor.fetchmany(4096):
            rows = [r for r in rows if len(r[1]) == 4 * len(query)]
            if not rows:
                continue
            matrix = np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), -1)
            for (pk, _), score in zip(rows, matrix @ query, strict=True):
                item = (float(score), -pk)  # ties: the older passage first
                if len(best) < depth:
                    heapq.heappush(best, item)
                elif item > best[0]:
                    heapq.heapreplace(best, item)
        return [(-pk, score) for score, pk in sorted(best, reverse=True)]

    def _vector_ranking(self, scope: Scope, query: np.ndarray, depth: int) -> Ranking:
        """ANN candidates that pass the filters; over-fetch, then exact search on a small subset."""
        import numpy as np

        query = np.asarray(query, dtype=np.float32)
        k = depth
        while True:
            keys, scores = self.indexes.search(scope.owners, query, k)
            kept = self._kept([int(x) for x in keys], scope)
            hits = [(int(pk), float(s)) for pk, s in zip(keys, scores, strict=True) if pk in kept]
            if len(hits) >= depth or len(keys) < k:
                return hits[:depth]
            limit = archival.EXACT_LIMIT
            if scope.filtered and self._subset_size(scope, limit + 1) <= limit:
                return self._exact_ranking(scope, query, depth)
            if k >= MAX_OVERFETCH:
                return hits[:depth]
            k *= 4
