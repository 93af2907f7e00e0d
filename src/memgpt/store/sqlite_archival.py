"""Archival storage for the SQLite store: passages, their indexes and hybrid search.

A passage belongs to an agent (what it saved with archival_memory_insert) or to
a document source (`sqlite_sources.py`); an agent searches its own passages plus
those of the sources attached to it. Search is hybrid: BM25 (`memgpt.store.text_index`) and vector
similarity (`memgpt.store.indexes`), each giving up to `CANDIDATE_DEPTH`
candidates, fused by reciprocal rank. SQLite holds the truth; the indexes only
propose candidates, and every candidate is re-read through a join on `passages`
with the filters, so a deleted passage is never returned even by a stale index.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from memgpt.schemas import Passage
from memgpt.store.base import ArchivalFilter, ArchivalHit
from memgpt.store.fusion import fuse
from memgpt.store.indexes import IndexSet, Owner
from memgpt.store.text_index import TextIndex

CANDIDATE_DEPTH = 100  # candidates each ranking contributes to fusion (and the result count cap)
EXACT_LIMIT = 20_000  # a filtered subset this small is searched exactly instead of by over-fetching
MAX_OVERFETCH = 4096  # the most candidates fetched to satisfy a filter
_SQL_PARAMS = 500  # pks per IN (...) list, well under SQLite's variable limit
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def search_depth(limit: int, passages: int) -> int:
    """Candidates each ranking gives: the same for every page of a query, so its total
    and its pages do not depend on the page asked for; never more than the passages in
    scope."""
    return min(max(CANDIDATE_DEPTH, limit), passages)


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime(_TIME_FORMAT)


def _parse_ts(text: str) -> datetime:
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)


def _chunks(items: list, size: int = _SQL_PARAMS) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


class ArchivalMixin:
    """Mixed into SQLiteStore, which provides the connection, transactions and `indexes`."""

    indexes: IndexSet
    text_index: TextIndex

    if TYPE_CHECKING:

        def _execute(self, sql: str, params: tuple | list = ()) -> sqlite3.Cursor: ...
        def _conn(self) -> sqlite3.Connection: ...
        def transaction(self) -> AbstractContextManager[None]: ...

    @staticmethod
    def vectors_dir(db_path: Path) -> Path:
        return db_path.with_name(db_path.name + ".vectors")

    # writing passages

    def _insert_rows(
        self,
        passages: list[Passage],
        *,
        agent_id: str | None = None,
        source_id: str | None = None,
        file_pk: int | None = None,
    ) -> None:
        """Insert passages with explicit pks, never used before (the indexes rely on it).

        Runs inside the caller's transaction, which holds SQLite's write lock, so the
        pks taken from `passage_pks` cannot be taken by another writer meanwhile.
        """
        start = self._execute("SELECT last FROM passage_pks").fetchone()[0] + 1
        rows = []
        for pk, p in enumerate(passages, start=start):
            p.agent_id = agent_id or ""
            p.source_id = source_id
            vector = None
            if p.embedding is not None:
                vector = np.asarray(p.embedding, dtype=np.float32).tobytes()
            rows.append(
                (
                    pk,
                    p.id,
                    agent_id,
                    source_id,
                    file_pk,
                    p.text,
                    vector,
                    p.source,
                    p.page,
                    p.char_offset,
                    p.chunk_hash,
                    json.dumps(p.tags),
                    json.dumps(p.metadata),
                    _ts(p.created_at),
                )
            )
        self._conn().executemany(
            "INSERT INTO passages (pk, id, agent_id, source_id, file_pk, text, embedding, source,"
            " page, char_offset, chunk_hash, tags, metadata, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        self._execute("UPDATE passage_pks SET last = ?", (start + len(rows) - 1,))

    def insert_passages(self, agent_id: str, passages: list[Passage]) -> None:
        with self.transaction():
            self._insert_rows(passages, agent_id=agent_id)

    def list_passages(self, agent_id: str, limit: int = 100, offset: int = 0) -> list[Passage]:
        """The agent's own passages, oldest first."""
        rows = self._execute(
            f"{self._select} WHERE p.agent_id = ? ORDER BY p.pk LIMIT ? OFFSET ?",
            (agent_id, limit, offset),
        )
        return [self._passage(r) for r in rows]

    def passages_page(
        self,
        agent_id: str,
        *,
        after_id: str | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[Passage]:
        """The agent's own passages by pk, after the passage `after_id` (read by the
        (agent_id, pk) index: a page costs the same at any archive size)."""
        where, params = "p.agent_id = ?", [agent_id]
        if after_id is not None:
            # An id that is not the agent's gives NULL, which compares false: an empty page.
            where += f" AND p.pk {'<' if newest_first else '>'} (SELECT pk FROM passages"
            where += " WHERE agent_id = ? AND id = ?)"
            params += [agent_id, after_id]
        rows = self._execute(
            f"{self._select} WHERE {where} ORDER BY p.pk {'DESC' if newest_first else 'ASC'}"
            " LIMIT ?",
            (*params, limit),
        )
        return [self._passage(r) for r in rows]

    def delete_passage(self, agent_id: str, passage_id: str) -> bool:
        """Delete one of the agent's own passages (a source's passages go with the source)."""
        with self.transaction():
            row = self._execute(
                "SELECT pk FROM passages WHERE agent_id = ? AND id = ?", (agent_id, passage_id)
            ).fetchone()
            if row is None:
                return False
            self._execute("DELETE FROM passages WHERE pk = ?", (row["pk"],))
        self.indexes.forget(("agent_id", agent_id), [row["pk"]])
        self.text_index.forget([row["pk"]])
        return True

    def count_passages(self, agent_id: str) -> int:
        """How many passages the agent can search: its own plus its attached sources'."""
        row = self._execute(
            "SELECT passages FROM agent_counts WHERE agent_id = ?", (agent_id,)
        ).fetchone()
        own = row[0] if row else 0
        # Source counts come from the file rows, so this stays cheap at millions of passages.
        attached = self._execute(
            "SELECT COALESCE(SUM(f.passages), 0) FROM source_files f"
            " JOIN agent_sources a ON a.source_id = f.source_id"
            " WHERE a.agent_id = ? AND f.status = 'done'",
            (agent_id,),
        ).fetchone()[0]
        return own + attached

    def flush_index(self) -> None:
        """Put every passage written so far into the indexes and save them."""
        owners: list[Owner] = [
            *(("agent_id", r[0]) for r in self._execute("SELECT id FROM agents")),
            *(("source_id", r[0]) for r in self._execute("SELECT id FROM sources")),
        ]
        self.indexes.flush(owners)
        self.text_index.sync()

    # reading passages

    _select = (
        "SELECT p.*, f.path AS file_path FROM passages p"
        " LEFT JOIN source_files f ON f.pk = p.file_pk"
    )

    @staticmethod
    def _passage(row: sqlite3.Row) -> Passage:
        return Passage(
            id=row["id"],
            agent_id=row["agent_id"] or "",
            text=row["text"],
            source=row["source"],
            metadata=json.loads(row["metadata"]),
            created_at=_parse_ts(row["created_at"]),
            source_id=row["source_id"],
            file=row["file_path"],
            page=row["page"],
            char_offset=row["char_offset"],
            chunk_hash=row["chunk_hash"],
            tags=json.loads(row["tags"]),
        )

    def _fetch(self, pks: list[int]) -> dict[int, Passage]:
        found: dict[int, Passage] = {}
        for part in _chunks(pks):
            for row in self._execute(f"{self._select} WHERE p.pk IN ({_marks(len(part))})", part):
                found[row["pk"]] = self._passage(row)
        return found

    # search

    def _scope(self, agent_id: str, filters: ArchivalFilter) -> tuple[list[Owner], str, list]:
        """The indexes to ask, and a WHERE clause (over `p`) for the agent's scope and filters."""
        attached = self._execute(
            "SELECT s.id, s.name FROM agent_sources a JOIN sources s ON s.id = a.source_id"
            " WHERE a.agent_id = ? ORDER BY a.attached_at",
            (agent_id,),
        ).fetchall()
        if filters.sources:
            attached = [r for r in attached if r["name"] in filters.sources]
        source_ids = [r["id"] for r in attached]
        owners: list[Owner] = [("agent_id", agent_id), *(("source_id", s) for s in source_ids)]
        clauses = [f"(p.agent_id = ? OR p.source_id IN ({_marks(len(source_ids))}))"]
        params: list = [agent_id, *source_ids]
        if filters.sources:
            clauses.append(f"p.source IN ({_marks(len(filters.sources))})")
            params += filters.sources
        if filters.tags:
            clauses.append(
                "EXISTS (SELECT 1 FROM json_each(p.tags) t"
                f" WHERE t.value IN ({_marks(len(filters.tags))}))"
            )
            params += filters.tags
        if filters.start is not None:
            clauses.append("p.created_at >= ?")
            params.append(_ts(filters.start))
        if filters.end is not None:
            clauses.append("p.created_at <= ?")
            params.append(_ts(filters.end))
        return owners, " AND ".join(clauses), params

    def _text_ranking(
        self, owners: list[Owner], query: str, where: str, params: list, depth: int
    ) -> list[tuple[int, float]]:
        """BM25's best `depth` passages in scope and filters.

        The index's best over every owner comes first (its fast path); when too few of
        them are in scope, the index is asked again for the scope's owners only, and
        deeper while the filters drop too many.
        """
        scoped: list[Owner] | None = None
        k = depth
        while True:
            ranked = self.text_index.search(query, k, scoped)
            kept = self._kept([pk for pk, _ in ranked], where, params)
            hits = [(pk, score) for pk, score in ranked if pk in kept]
            if len(hits) >= depth or len(ranked) < k or k >= MAX_OVERFETCH:
                return hits[:depth]
            if scoped is None:
                scoped = owners
            else:
                k *= 4

    def _kept(self, pks: list[int], where: str, params: list) -> set[int]:
        # CROSS JOIN makes SQLite walk the candidates and look each pk up, instead of
        # scanning the whole scope through the agent or source index.
        rows = self._execute(
            "SELECT p.pk FROM json_each(?) c CROSS JOIN passages p ON p.pk = c.value"
            f" WHERE {where}",
            (json.dumps(pks), *params),
        )
        return {r[0] for r in rows}

    def _subset_size(self, where: str, params: list, cap: int) -> int:
        return self._execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM passages p WHERE {where} LIMIT ?)", (*params, cap)
        ).fetchone()[0]

    def _exact_ranking(
        self, query: np.ndarray, where: str, params: list, depth: int
    ) -> list[tuple[int, float]]:
        """Brute force over the (small) filtered subset, streamed so memory stays flat."""
        cursor = self._execute(
            f"SELECT p.pk, p.embedding FROM passages p WHERE {where} AND p.embedding IS NOT NULL",
            params,
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

    def _vector_ranking(
        self,
        owners: list[Owner],
        query: np.ndarray,
        where: str,
        params: list,
        depth: int,
        filtered: bool,
    ) -> list[tuple[int, float]]:
        """ANN candidates that pass the filters; over-fetch, then exact search on a small subset."""
        query = np.asarray(query, dtype=np.float32)
        k = depth
        while True:
            keys, scores = self.indexes.search(owners, query, k)
            kept = self._kept([int(x) for x in keys], where, params)
            hits = [(int(pk), float(s)) for pk, s in zip(keys, scores, strict=True) if pk in kept]
            if len(hits) >= depth or len(keys) < k:
                return hits[:depth]
            if filtered and self._subset_size(where, params, EXACT_LIMIT + 1) <= EXACT_LIMIT:
                return self._exact_ranking(query, where, params, depth)
            if k >= MAX_OVERFETCH:
                return hits[:depth]
            k *= 4

    def search_archival(
        self,
        agent_id: str,
        query: str,
        embedding: np.ndarray | None,
        limit: int,
        offset: int = 0,
        filters: ArchivalFilter | None = None,
    ) -> tuple[list[ArchivalHit], int]:
        """One page of hybrid results, and how many fused results there are in all.

        The total counts candidates from both rankings (each capped at the depth), so
        it is what paging can reach, not every passage sharing a word with the query.
        """
        filters = filters or ArchivalFilter()
        owners, where, params = self._scope(agent_id, filters)
        depth = search_depth(limit, self.count_passages(agent_id))
        if depth == 0:
            return [], 0
        filtered = bool(filters.sources or filters.tags or filters.start or filters.end)
        text = self._text_ranking(owners, query, where, params, depth)
        vector = (
            self._vector_ranking(owners, embedding, where, params, depth, filtered)
            if embedding is not None
            else []
        )
        fused = fuse([pk for pk, _ in vector], [pk for pk, _ in text])
        page = fused[offset : offset + limit]
        passages = self._fetch([pk for pk, _ in page])
        similarity = {pk: (rank, s) for rank, (pk, s) in enumerate(vector, start=1)}
        bm25 = {pk: (rank, s) for rank, (pk, s) in enumerate(text, start=1)}
        hits = [
            ArchivalHit(
                passage=passages[pk],
                score=score,
                similarity=similarity[pk][1] if pk in similarity else None,
                vector_rank=similarity[pk][0] if pk in similarity else None,
                bm25=bm25[pk][1] if pk in bm25 else None,
                text_rank=bm25[pk][0] if pk in bm25 else None,
            )
            for pk, score in page
            if pk in passages
        ]
        return hits, len(fused)

    def search_passages(
        self, agent_id: str, embedding: np.ndarray, limit: int, offset: int = 0
    ) -> list[tuple[Passage, float]]:
        """Vector similarity alone, best first."""
        owners, where, params = self._scope(agent_id, ArchivalFilter())
        depth = search_depth(limit, self.count_passages(agent_id))
        if depth == 0:
            return []
        ranking = self._vector_ranking(owners, embedding, where, params, depth, False)
        ranking = ranking[offset : offset + limit]
        passages = self._fetch([pk for pk, _ in ranking])
        return [(passages[pk], score) for pk, score in ranking if pk in passages]
