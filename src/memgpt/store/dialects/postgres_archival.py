"""Archival indexes of the PostgreSQL store: a generated tsvector column ranked by ts_rank,
and pgvector, with a partial HNSW index for each embedding dimension in use.

Both are maintained by PostgreSQL in the writing transaction, so nothing is flushed
or forgotten here; a small scope is searched exactly instead of through HNSW.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from psycopg import sql

from memgpt.store.base import content_words
from memgpt.store.sql import archival
from memgpt.store.sql.seam import Owner, Ranking, Row, Scope, Seam

MAX_EF_SEARCH = 1000  # pgvector's ceiling on hnsw.ef_search: the most candidates one scan gives
HNSW_MAX_DIM = 2000  # pgvector cannot index wider `vector`s; those are searched exactly

_ANY_WORD = (
    "WITH q AS (SELECT memgpt_tsquery_any(plainto_tsquery('memgpt', w)) AS q"
    " FROM unnest(?::text[]) AS w)"
)


def _comparable(rows: list[Row]) -> Ranking:
    """(pk, similarity) of ranked rows, without zero vectors: they have no direction, so
    their cosine distance is NaN, which PostgreSQL sorts after every number."""
    return [(r["pk"], float(r["score"])) for r in rows if not np.isnan(r["score"])]


class PostgresArchival(Seam):
    _known_dims: set[tuple[str, int]]  # (table, dimension) with an HNSW index

    @staticmethod
    def _index_name(dim: int, table: str = "passages") -> str:
        return f"{table}_hnsw_{dim}"

    def _indexed_dims(self) -> set[tuple[str, int]]:
        rows = self._query(
            "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = current_schema()"
            " AND tablename IN ('passages', 'message_vectors')"
            " AND indexname LIKE tablename || ?",
            ("_hnsw_%",),
        )
        return {(r["tablename"], int(r["indexname"].rsplit("_", 1)[1])) for r in rows}

    def _ensure_vector_index(self, dim: int, table: str = "passages") -> None:
        """Create the HNSW index for `dim` on `table` (passages, or recall's
        message_vectors) in the caller's transaction, unless it exists.

        Only an index seen committed is remembered: one created in a transaction that
        later rolls back is looked for (and made) again.
        """
        if (table, dim) in self._known_dims or dim > HNSW_MAX_DIM:
            return
        name = self._index_name(dim, table)
        if self._one("SELECT to_regclass(?) AS i", (name,))["i"] is not None:
            self._known_dims.add((table, dim))
            return
        with self.transaction():
            # Serialize creators: two concurrent CREATE INDEX IF NOT EXISTS of one name collide.
            self._serialize("memgpt:hnsw")
            self._run(
                sql.SQL(
                    "CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw"
                    " ((embedding::vector({dim})) vector_cosine_ops)"
                    " WHERE vector_dims(embedding) = {dim}"
                ).format(sql.Identifier(name), sql.Identifier(table), dim=sql.Literal(dim))
            )

    def _vector(self, embedding: list[float] | None) -> Any:
        return np.asarray(embedding, dtype=np.float32) if embedding else None

    def _add_passages(self, rows: list[tuple]) -> None:
        for dim in {len(row[5]) for row in rows if row[5] is not None}:
            self._ensure_vector_index(dim)
        self._run_many(
            "INSERT INTO passages (id, agent_id, source_id, file_pk, text, embedding, source,"
            " page, char_offset, chunk_hash, tags, metadata, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def _dropped(self, owner: Owner, pks: list[int] | None = None) -> None:
        """Nothing to do: the indexes lost the rows in the deleting transaction."""

    def flush_index(self) -> None:
        """Nothing to do: PostgreSQL updates the HNSW indexes in the inserting transaction."""

    def _text_ranking(self, scope: Scope, query: str, depth: int) -> Ranking:
        # Stopwords are in nearly every passage: they add no ranking signal, yet would make
        # ts_rank score every passage that has them (at a million, ms against seconds).
        words = content_words(query)
        if not words:
            return []
        rows = self._query(
            f"{_ANY_WORD} SELECT p.pk, ts_rank(p.body, q.q, 1) AS rank FROM passages p, q"
            f" WHERE p.body @@ q.q AND {scope.where} ORDER BY rank DESC, p.pk LIMIT ?",
            (words, *scope.params, depth),
        )
        return [(r["pk"], float(r["rank"])) for r in rows]

    def _vector_ranking(
        self, scope: Scope, query: np.ndarray, depth: int, table: str = "passages"
    ) -> Ranking:
        """Exactly, or through HNSW where the scope is large. `table` holds the vectors
        (passages, or recall's message_vectors: `scope.where` is over its rows as `p`)."""
        params = scope.params
        query = np.asarray(query, dtype=np.float32)
        dim = sql.Literal(len(query))
        # Passages of another dimension came from another model and cannot be compared.
        usable = sql.SQL("vector_dims(p.embedding) = {dim}").format(dim=dim)
        where = sql.SQL(scope.where.replace("?", "%s"))
        in_scope = self._one(
            sql.SQL(
                "SELECT COUNT(*) AS n FROM (SELECT 1 FROM {table} p WHERE {where} AND {usable}"
                " LIMIT %s) s"
            ).format(table=sql.Identifier(table), where=where, usable=usable),
            (*params, archival.EXACT_LIMIT + 1),
        )["n"]
        if in_scope <= archival.EXACT_LIMIT or len(query) > HNSW_MAX_DIM:
            # No cast to vector(dim) here, so the planner cannot swap in the approximate index.
            rows = self._query(
                sql.SQL(
                    "SELECT p.pk, 1 - (p.embedding <=> %s) AS score FROM {table} p"
                    " WHERE {where} AND {usable} ORDER BY p.embedding <=> %s, p.pk LIMIT %s"
                ).format(table=sql.Identifier(table), where=where, usable=usable),
                (query, *params, query, depth),
            )
            return _comparable(rows)
        return self._approximate_ranking(query, where, params, depth, dim, sql.Identifier(table))

    def _approximate_ranking(
        self,
        query: np.ndarray,
        where: sql.SQL,
        params: list,
        depth: int,
        dim: sql.Literal,
        table: sql.Identifier,
    ) -> Ranking:
        """HNSW candidates that pass the scope and filters; over-fetch until `depth` do
        (the scope holds more than `EXACT_LIMIT`). A scan giving fewer rows than asked is
        not the end of the index: its candidates include rows deleted since the last
        vacuum, which it drops."""
        k = min(depth, MAX_EF_SEARCH)
        while True:
            with self.transaction():
                self._query("SELECT set_config('hnsw.ef_search', ?, true)", (str(k),))
                rows = self._query(
                    sql.SQL(
                        "WITH c AS MATERIALIZED (SELECT pk, embedding::vector({dim}) <=> %s AS d"
                        " FROM {table} WHERE vector_dims(embedding) = {dim}"
                        " ORDER BY embedding::vector({dim}) <=> %s LIMIT %s)"
                        " SELECT c.pk, 1 - c.d AS score, ({where}) AS kept FROM c"
                        " JOIN {table} p ON p.pk = c.pk ORDER BY c.d, c.pk"
                    ).format(dim=dim, where=where, table=table),
                    (query, query, k, *params),
                )
            hits = _comparable([r for r in rows if r["kept"]])
            if len(hits) >= depth or k >= MAX_EF_SEARCH:
                return hits[:depth]
            k = min(k * 4, MAX_EF_SEARCH)
