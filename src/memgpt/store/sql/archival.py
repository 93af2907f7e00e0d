"""Archival storage, written once for both dialects: passages and hybrid search.

A passage belongs to an agent (what it saved with archival_memory_insert) or to a
document source (`sources.py`); an agent searches its own passages plus those of
the sources attached to it. Search is hybrid: a full-text ranking and a vector
ranking (each dialect's own indexes, see `seam.py`), each giving up to
`CANDIDATE_DEPTH` candidates, fused by weighted reciprocal rank (`fusion.py`). The tables hold the truth:
every candidate is re-read through `passages` with the filters, so a deleted
passage is never returned even by a stale index.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from memgpt.schemas import Passage
from memgpt.store.base import ArchivalFilter, ArchivalHit
from memgpt.store.fusion import fuse
from memgpt.store.sql.seam import Owner, Ranking, Row, Scope, Seam

if TYPE_CHECKING:
    import numpy as np

CANDIDATE_DEPTH = 100  # candidates each ranking contributes to fusion (and the result count cap)
EXACT_LIMIT = 20_000  # a filtered subset this small is searched exactly, not by the index
_SQL_PARAMS = 500  # values per IN (...) list, well under SQLite's variable limit


def search_depth(limit: int, passages: int) -> int:
    """Candidates each ranking gives: the same for every page of a query, so its total
    and its pages do not depend on the page asked for; never more than the passages in
    scope."""
    return min(max(CANDIDATE_DEPTH, limit), passages)


def chunks(items: list, size: int = _SQL_PARAMS) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class ArchivalSQL(Seam):
    def _insert_rows(
        self,
        passages: list[Passage],
        *,
        agent_id: str | None = None,
        source_id: str | None = None,
        file_pk: int | None = None,
    ) -> None:
        """Insert passages of one owner, in the caller's transaction."""
        rows = []
        for p in passages:
            p.agent_id = agent_id or ""
            p.source_id = source_id
            rows.append(
                (
                    p.id,
                    agent_id,
                    source_id,
                    file_pk,
                    p.text,
                    self._vector(p.embedding),
                    p.source,
                    p.page,
                    p.char_offset,
                    p.chunk_hash,
                    self._tags(p.tags),
                    self._json(p.metadata),
                    self._ts(p.created_at),
                )
            )
        self._add_passages(rows)

    def insert_passages(self, agent_id: str, passages: list[Passage]) -> None:
        with self.transaction():
            self._insert_rows(passages, agent_id=agent_id)

    def list_passages(self, agent_id: str, limit: int = 100, offset: int = 0) -> list[Passage]:
        """The agent's own passages, oldest first."""
        rows = self._query(
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
        rows = self._query(
            f"{self._select} WHERE {where} ORDER BY p.pk {'DESC' if newest_first else 'ASC'}"
            " LIMIT ?",
            (*params, limit),
        )
        return [self._passage(r) for r in rows]

    def delete_passage(self, agent_id: str, passage_id: str) -> bool:
        """Delete one of the agent's own passages (a source's passages go with the source)."""
        with self.transaction():
            row = self._one(
                "SELECT pk FROM passages WHERE agent_id = ? AND id = ?", (agent_id, passage_id)
            )
            if row is None:
                return False
            self._run("DELETE FROM passages WHERE pk = ?", (row["pk"],))
        self._dropped(("agent_id", agent_id), [row["pk"]])
        return True

    def count_passages(self, agent_id: str) -> int:
        """How many passages the agent can search: its own plus its attached sources'.

        Source counts come from the file rows, so this stays cheap at millions of passages.
        """
        row = self._one(
            "SELECT COALESCE((SELECT passages FROM agent_counts WHERE agent_id = ?), 0)"
            " + COALESCE((SELECT SUM(f.passages) FROM source_files f"
            "   JOIN agent_sources a ON a.source_id = f.source_id"
            "   WHERE a.agent_id = ? AND f.status = 'done'), 0) AS n",
            (agent_id, agent_id),
        )
        return int(row["n"])

    # reading passages

    _select = (
        "SELECT p.pk, p.id, p.agent_id, p.source_id, p.text, p.source, p.page, p.char_offset,"
        " p.chunk_hash, p.tags, p.metadata, p.created_at, f.path AS file_path"
        " FROM passages p LEFT JOIN source_files f ON f.pk = p.file_pk"
    )

    def _passage(self, row: Row) -> Passage:
        return Passage(
            id=row["id"],
            agent_id=row["agent_id"] or "",
            text=row["text"],
            source=row["source"],
            metadata=self._from_json(row["metadata"]),
            created_at=self._from_ts(row["created_at"]),
            source_id=row["source_id"],
            file=row["file_path"],
            page=row["page"],
            char_offset=row["char_offset"],
            chunk_hash=row["chunk_hash"],
            tags=self._from_json(row["tags"]),
        )

    def _fetch(self, pks: list[int]) -> dict[int, Passage]:
        found: dict[int, Passage] = {}
        for part in chunks(pks):
            where, params = self._any("p.pk", part)
            for row in self._query(f"{self._select} WHERE {where}", params):
                found[row["pk"]] = self._passage(row)
        return found

    # search

    def _scope(self, agent_id: str, filters: ArchivalFilter) -> Scope:
        attached = self._query(
            "SELECT s.id, s.name FROM agent_sources a JOIN sources s ON s.id = a.source_id"
            " WHERE a.agent_id = ? ORDER BY a.attached_at",
            (agent_id,),
        )
        if filters.sources:
            attached = [r for r in attached if r["name"] in filters.sources]
        source_ids = [r["id"] for r in attached]
        owners: list[Owner] = [("agent_id", agent_id), *(("source_id", s) for s in source_ids)]
        clause, params = self._any("p.source_id", source_ids)
        clauses, params = [f"(p.agent_id = ? OR {clause})"], [agent_id, *params]
        if filters.sources:
            clause, values = self._any("p.source", filters.sources)
            clauses.append(clause)
            params += values
        if filters.tags:
            clause, values = self._has_tag(filters.tags)
            clauses.append(clause)
            params += values
        if filters.start is not None:
            clauses.append("p.created_at >= ?")
            params.append(self._ts(filters.start))
        if filters.end is not None:
            clauses.append("p.created_at <= ?")
            params.append(self._ts(filters.end))
        filtered = bool(filters.sources or filters.tags or filters.start or filters.end)
        return Scope(owners, " AND ".join(clauses), params, filtered)

    def search_archival(
        self,
        agent_id: str,
        query: str,
        embedding: np.ndarray | None,
        limit: int,
        offset: int = 0,
        filters: ArchivalFilter | None = None,
        floor: float | None = None,
    ) -> tuple[list[ArchivalHit], int]:
        """One page of hybrid results, and how many fused results there are in all.

        The total counts candidates from both rankings (each capped at the depth), so
        it is what paging can reach, not every passage sharing a word with the query.
        Vector hits no more similar than `floor` are left out (`memgpt.memory.relevance`).
        """
        scope = self._scope(agent_id, filters or ArchivalFilter())
        depth = search_depth(limit, self.count_passages(agent_id))
        if depth == 0:
            return [], 0
        text = self._text_ranking(scope, query, depth)
        vector = self._vector_ranking(scope, embedding, depth) if embedding is not None else []
        if floor is not None:
            vector = [(pk, s) for pk, s in vector if s > floor]
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
        scope = self._scope(agent_id, ArchivalFilter())
        depth = search_depth(limit, self.count_passages(agent_id))
        if depth == 0:
            return []
        ranking: Ranking = self._vector_ranking(scope, embedding, depth)[offset : offset + limit]
        passages = self._fetch([pk for pk, _ in ranking])
        return [(passages[pk], score) for pk, score in ranking if pk in passages]
