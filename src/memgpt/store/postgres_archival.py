"""Archival storage for the PostgreSQL store: passages and hybrid search.

The same model as the SQLite side (`sqlite_archival.py`): a passage belongs to an
agent or to a document source (`postgres_sources.py`), an agent searches its own
passages plus those of its attached sources, and search fuses a text ranking and a
vector ranking with the same reciprocal rank fusion (`fusion.py`).

- Text: a stored tsvector with a GIN index, ranked by ts_rank; each query word is
  a bound parameter through plainto_tsquery, so query syntax is plain text.
- Vectors: one `vector` column of any dimension, and for each dimension in use a
  partial HNSW index (cosine) on `embedding::vector(dim)`, created with the first
  passage of that dimension. A scope small enough (an agent's own notes, a small
  source) is searched exactly; a larger one asks the HNSW index for candidates
  and over-fetches until enough pass the scope and filters, as SQLite does.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from psycopg import sql
from psycopg.types.json import Jsonb

from memgpt.schemas import Passage
from memgpt.store.base import ArchivalFilter, ArchivalHit, content_words
from memgpt.store.fusion import fuse
from memgpt.store.postgres_migrations import advisory_key
from memgpt.store.sqlite_archival import search_depth

EXACT_LIMIT = 20_000  # a scope this small is searched exactly instead of through the index
MAX_EF_SEARCH = 1000  # pgvector's ceiling on hnsw.ef_search: the most candidates one scan gives
HNSW_MAX_DIM = 2000  # pgvector cannot index wider `vector`s; those are searched exactly

Row = dict[str, Any]


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _comparable(rows: list[Row]) -> list[tuple[int, float]]:
    """(pk, similarity) of ranked rows, without zero vectors: they have no direction, so
    their cosine distance is NaN, which PostgreSQL sorts after every number."""
    return [(r["pk"], float(r["score"])) for r in rows if not np.isnan(r["score"])]


_ANY_WORD = (
    "WITH q AS (SELECT memgpt_tsquery_any(plainto_tsquery('memgpt', w)) AS q"
    " FROM unnest(%s::text[]) AS w)"
)


class PostgresArchivalMixin:
    """Mixed into PostgresStore, which provides connections and transactions."""

    _known_dims: set[int]

    if TYPE_CHECKING:

        def _query(self, sql: Any, params: tuple | list | dict = ()) -> list[Row]: ...
        def _one(self, sql: Any, params: tuple | list | dict = ()) -> Row | None: ...
        def _run(self, sql: Any, params: tuple | list | dict = ()) -> int: ...
        def _run_many(self, sql: Any, rows: list) -> None: ...
        def transaction(self) -> AbstractContextManager[None]: ...

    # vector indexes

    @staticmethod
    def _index_name(dim: int) -> str:
        return f"passages_hnsw_{dim}"

    def _indexed_dims(self) -> set[int]:
        rows = self._query(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'passages'"
            " AND schemaname = current_schema() AND indexname LIKE %s",
            ("passages_hnsw_%",),
        )
        return {int(r["indexname"].rsplit("_", 1)[1]) for r in rows}

    def _ensure_vector_index(self, dim: int) -> None:
        """Create the HNSW index for `dim` in the caller's transaction, unless it exists.

        Only an index seen committed is remembered: one created in a transaction that
        later rolls back is looked for (and made) again.
        """
        if dim in self._known_dims or dim > HNSW_MAX_DIM:
            return
        name = self._index_name(dim)
        if self._one("SELECT to_regclass(%s) AS i", (name,))["i"] is not None:
            self._known_dims.add(dim)
            return
        with self.transaction():
            # Serialize creators: two concurrent CREATE INDEX IF NOT EXISTS of one name collide.
            self._query("SELECT pg_advisory_xact_lock(%s)", (advisory_key("memgpt:hnsw"),))
            self._run(
                sql.SQL(
                    "CREATE INDEX IF NOT EXISTS {} ON passages USING hnsw"
                    " ((embedding::vector({dim})) vector_cosine_ops)"
                    " WHERE vector_dims(embedding) = {dim}"
                ).format(sql.Identifier(name), dim=sql.Literal(dim))
            )

    # writing passages

    def _insert_rows(
        self,
        passages: list[Passage],
        *,
        agent_id: str | None = None,
        source_id: str | None = None,
        file_pk: int | None = None,
    ) -> None:
        rows = []
        for p in passages:
            p.agent_id = agent_id or ""
            p.source_id = source_id
            vector = None
            if p.embedding:
                vector = np.asarray(p.embedding, dtype=np.float32)
                self._ensure_vector_index(len(vector))
            rows.append(
                (
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
                    p.tags,
                    Jsonb(p.metadata),
                    p.created_at,
                )
            )
        self._run_many(
            "INSERT INTO passages (id, agent_id, source_id, file_pk, text, embedding, source,"
            " page, char_offset, chunk_hash, tags, metadata, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )

    def insert_passages(self, agent_id: str, passages: list[Passage]) -> None:
        with self.transaction():
            self._insert_rows(passages, agent_id=agent_id)

    def list_passages(self, agent_id: str, limit: int = 100, offset: int = 0) -> list[Passage]:
        """The agent's own passages, oldest first."""
        rows = self._query(
            f"{self._select} WHERE p.agent_id = %s ORDER BY p.pk LIMIT %s OFFSET %s",
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
        where, params = "p.agent_id = %s", [agent_id]
        if after_id is not None:
            # An id that is not the agent's gives NULL, which compares false: an empty page.
            where += f" AND p.pk {'<' if newest_first else '>'} (SELECT pk FROM passages"
            where += " WHERE agent_id = %s AND id = %s)"
            params += [agent_id, after_id]
        rows = self._query(
            f"{self._select} WHERE {where} ORDER BY p.pk {'DESC' if newest_first else 'ASC'}"
            " LIMIT %s",
            (*params, limit),
        )
        return [self._passage(r) for r in rows]

    def delete_passage(self, agent_id: str, passage_id: str) -> bool:
        """Delete one of the agent's own passages (a source's passages go with the source)."""
        return bool(
            self._run(
                "DELETE FROM passages WHERE agent_id = %s AND id = %s", (agent_id, passage_id)
            )
        )

    def count_passages(self, agent_id: str) -> int:
        """How many passages the agent can search: its own plus its attached sources'."""
        row = self._one(
            "SELECT COALESCE((SELECT passages FROM agent_counts WHERE agent_id = %s), 0)"
            " + COALESCE((SELECT SUM(f.passages) FROM source_files f"
            "   JOIN agent_sources a ON a.source_id = f.source_id"
            "   WHERE a.agent_id = %s AND f.status = 'done'), 0) AS n",
            (agent_id, agent_id),
        )
        return int(row["n"])

    def flush_index(self) -> None:
        """Nothing to do: PostgreSQL updates the HNSW indexes in the inserting transaction."""

    # reading passages

    _select = (
        "SELECT p.pk, p.id, p.agent_id, p.source_id, p.text, p.source, p.page, p.char_offset,"
        " p.chunk_hash, p.tags, p.metadata, p.created_at, f.path AS file_path"
        " FROM passages p LEFT JOIN source_files f ON f.pk = p.file_pk"
    )

    @staticmethod
    def _passage(row: Row) -> Passage:
        return Passage(
            id=row["id"],
            agent_id=row["agent_id"] or "",
            text=row["text"],
            source=row["source"],
            metadata=row["metadata"],
            created_at=_utc(row["created_at"]),
            source_id=row["source_id"],
            file=row["file_path"],
            page=row["page"],
            char_offset=row["char_offset"],
            chunk_hash=row["chunk_hash"],
            tags=row["tags"],
        )

    def _fetch(self, pks: list[int]) -> dict[int, Passage]:
        rows = self._query(f"{self._select} WHERE p.pk = ANY(%s)", (pks,))
        return {r["pk"]: self._passage(r) for r in rows}

    # search

    def _scope(self, agent_id: str, filters: ArchivalFilter) -> tuple[str, list]:
        """A WHERE clause (over `p`) for the agent's own and attached passages and the filters."""
        attached = self._query(
            "SELECT s.id, s.name FROM agent_sources a JOIN sources s ON s.id = a.source_id"
            " WHERE a.agent_id = %s ORDER BY a.attached_at",
            (agent_id,),
        )
        if filters.sources:
            attached = [r for r in attached if r["name"] in filters.sources]
        clauses = ["(p.agent_id = %s OR p.source_id = ANY(%s))"]
        params: list = [agent_id, [r["id"] for r in attached]]
        if filters.sources:
            clauses.append("p.source = ANY(%s)")
            params.append(filters.sources)
        if filters.tags:
            clauses.append("p.tags && %s::text[]")
            params.append(filters.tags)
        if filters.start is not None:
            clauses.append("p.created_at >= %s")
            params.append(filters.start)
        if filters.end is not None:
            clauses.append("p.created_at <= %s")
            params.append(filters.end)
        return " AND ".join(clauses), params

    def _text_ranking(
        self, query: str, where: str, params: list, depth: int
    ) -> list[tuple[int, float]]:
        # Stopwords are in nearly every passage: they add no ranking signal, yet would make
        # ts_rank score every passage that has them (at a million, ms against seconds).
        words = content_words(query)
        if not words:
            return []
        rows = self._query(
            f"{_ANY_WORD} SELECT p.pk, ts_rank(p.body, q.q, 1) AS rank FROM passages p, q"
            f" WHERE p.body @@ q.q AND {where} ORDER BY rank DESC, p.pk LIMIT %s",
            (words, *params, depth),
        )
        return [(r["pk"], float(r["rank"])) for r in rows]

    def _vector_ranking(
        self, query: np.ndarray, where: str, params: list, depth: int
    ) -> list[tuple[int, float]]:
        """The `depth` most similar passages in scope, as (pk, cosine similarity)."""
        query = np.asarray(query, dtype=np.float32)
        dim = sql.Literal(len(query))
        # Passages of another dimension came from another model and cannot be compared.
        usable = sql.SQL("vector_dims(p.embedding) = {dim}").format(dim=dim)
        scope = sql.SQL(where)
        in_scope = self._one(
            sql.SQL(
                "SELECT COUNT(*) AS n FROM (SELECT 1 FROM passages p WHERE {scope} AND {usable}"
                " LIMIT %s) s"
            ).format(scope=scope, usable=usable),
            (*params, EXACT_LIMIT + 1),
        )["n"]
        if in_scope <= EXACT_LIMIT or len(query) > HNSW_MAX_DIM:
            # No cast to vector(dim) here, so the planner cannot swap in the approximate index.
            rows = self._query(
                sql.SQL(
                    "SELECT p.pk, 1 - (p.embedding <=> %s) AS score FROM passages p"
                    " WHERE {scope} AND {usable} ORDER BY p.embedding <=> %s, p.pk LIMIT %s"
                ).format(scope=scope, usable=usable),
                (query, *params, query, depth),
            )
            return _comparable(rows)
        return self._approximate_ranking(query, scope, params, depth, dim)

    def _approximate_ranking(
        self, query: np.ndarray, scope: sql.SQL, params: list, depth: int, dim: sql.Literal
    ) -> list[tuple[int, float]]:
        """HNSW candidates that pass the scope and filters; over-fetch until enough do."""
        k = min(depth, MAX_EF_SEARCH)
        while True:
            with self.transaction():
                self._query("SELECT set_config('hnsw.ef_search', %s, true)", (str(k),))
                rows = self._query(
                    sql.SQL(
                        "WITH c AS MATERIALIZED (SELECT pk, embedding::vector({dim}) <=> %s AS d"
                        " FROM passages WHERE vector_dims(embedding) = {dim}"
                        " ORDER BY embedding::vector({dim}) <=> %s LIMIT %s)"
                        " SELECT c.pk, 1 - c.d AS score, ({scope}) AS kept FROM c"
                        " JOIN passages p ON p.pk = c.pk ORDER BY c.d, c.pk"
                    ).format(dim=dim, scope=scope),
                    (query, query, k, *params),
                )
            hits = _comparable([r for r in rows if r["kept"]])
            if len(hits) >= depth or len(rows) < k or k >= MAX_EF_SEARCH:
                return hits[:depth]
            k = min(k * 4, MAX_EF_SEARCH)

    def search_archival(
        self,
        agent_id: str,
        query: str,
        embedding: np.ndarray | None,
        limit: int,
        offset: int = 0,
        filters: ArchivalFilter | None = None,
    ) -> tuple[list[ArchivalHit], int]:
        """One page of hybrid results, and how many fused results there are in all
        (candidates of both rankings, each capped at the depth), as on SQLite."""
        filters = filters or ArchivalFilter()
        where, params = self._scope(agent_id, filters)
        depth = search_depth(limit, self.count_passages(agent_id))
        if depth == 0:
            return [], 0
        text = self._text_ranking(query, where, params, depth)
        vector = (
            self._vector_ranking(embedding, where, params, depth) if embedding is not None else []
        )
        fused = fuse([pk for pk, _ in vector], [pk for pk, _ in text])
        page = fused[offset : offset + limit]
        passages = self._fetch([pk for pk, _ in page])
        similarity = {pk: (rank, s) for rank, (pk, s) in enumerate(vector, start=1)}
        ts_rank = {pk: (rank, s) for rank, (pk, s) in enumerate(text, start=1)}
        hits = [
            ArchivalHit(
                passage=passages[pk],
                score=score,
                similarity=similarity[pk][1] if pk in similarity else None,
                vector_rank=similarity[pk][0] if pk in similarity else None,
                bm25=ts_rank[pk][1] if pk in ts_rank else None,
                text_rank=ts_rank[pk][0] if pk in ts_rank else None,
            )
            for pk, score in page
            if pk in passages
        ]
        return hits, len(fused)

    def search_passages(
        self, agent_id: str, embedding: np.ndarray, limit: int, offset: int = 0
    ) -> list[tuple[Passage, float]]:
        """Vector similarity alone, best first."""
        where, params = self._scope(agent_id, ArchivalFilter())
        depth = search_depth(limit, self.count_passages(agent_id))
        if depth == 0:
            return []
        ranking = self._vector_ranking(embedding, where, params, depth)[offset : offset + limit]
        passages = self._fetch([pk for pk, _ in ranking])
        return [(passages[pk], score) for pk, score in ranking if pk in passages]
