"""The server store: PostgreSQL with pgvector, for many processes sharing one database.

Chosen by `MEMGPT_PG_URI` (see `memgpt.client`). It behaves exactly as the SQLite
store does; the same test suite runs against both.

Connections come from a pool and run in autocommit mode; `transaction()` pins one
to the calling thread for the whole block and nests like SQLite's (only the
outermost block begins and commits), so a step's writes commit together. A
second small pool holds the sessions that own per-agent advisory locks
(`agent_lock`), which stay held while the LLM is called between transactions.
Recall search uses a tsvector column; archival search tsvector and pgvector
(`postgres_archival.py`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from pgvector.psycopg import register_vector
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from memgpt.store.agent_locks import AgentLocks, Release
from memgpt.store.base import StoreError
from memgpt.store.dialects.postgres_archival import PostgresArchival
from memgpt.store.dialects.postgres_message_vectors import PostgresMessageVectors
from memgpt.store.dialects.postgres_recall import PostgresRecall
from memgpt.store.migrations import advisory_key, migrate_postgres
from memgpt.store.sql.recall_vectors import RecallVectorsSQL
from memgpt.store.sql.seam import Row
from memgpt.store.sql.store import SQLStore

_PLACEHOLDERS: dict[str, str] = {}  # shared SQL's `?` placeholders, as psycopg's `%s`


def _native(sql: Any) -> Any:
    if not isinstance(sql, str):
        return sql  # composed by psycopg.sql, placeholders already %s
    native = _PLACEHOLDERS.get(sql)
    if native is None:
        native = _PLACEHOLDERS[sql] = sql.replace("?", "%s")
    return native


class PostgresStore(
    PostgresArchival, PostgresMessageVectors, PostgresRecall, RecallVectorsSQL, SQLStore
):
    _for_update = " FOR UPDATE"  # row locks: writers of other blocks go on meanwhile

    def __init__(self, uri: str, *, max_connections: int = 20, max_lock_holders: int = 100):
        self.uri = uri
        self._max_connections = max_connections
        self._max_lock_holders = max_lock_holders
        self._local = threading.local()
        self._pools_guard = threading.Lock()
        self._data: ConnectionPool | None = None
        self._locking: ConnectionPool | None = None
        try:
            with psycopg.connect(uri, autocommit=True) as conn:
                migrate_postgres(conn)
        except psycopg.OperationalError as exc:
            raise StoreError(
                f"Cannot connect to PostgreSQL at MEMGPT_PG_URI ({exc}); check the URI and that "
                "the server is running."
            ) from exc
        except psycopg.errors.FeatureNotSupported as exc:
            raise StoreError(
                f"The database lacks the pgvector extension ({exc}); install pgvector on the "
                "server and run CREATE EXTENSION vector as a superuser."
            ) from exc
        self._agent_locks = AgentLocks(self._advisory_lock)
        self._known_dims = self._indexed_dims()

    # connections

    @staticmethod
    def _configure(conn: psycopg.Connection) -> None:
        register_vector(conn)

    def _pool(self, locking: bool = False) -> ConnectionPool:
        """The data pool (or the lock holders' pool), opened on first use and after close()."""
        with self._pools_guard:
            pool = self._locking if locking else self._data
            if pool is None:
                pool = ConnectionPool(
                    self.uri,
                    min_size=0 if locking else 1,
                    max_size=self._max_lock_holders if locking else self._max_connections,
                    kwargs={"autocommit": True, "row_factory": dict_row},
                    configure=None if locking else self._configure,
                    check=ConnectionPool.check_connection,
                    open=True,
                )
                if locking:
                    self._locking = pool
                else:
                    self._data = pool
            return pool

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """The thread's transaction connection, else one borrowed for a single statement."""
        held = getattr(self._local, "conn", None)
        if held is not None:
            yield held
            return
        with self._pool().connection() as conn:
            yield conn

    def _query(self, sql: Any, params: tuple | list = ()) -> list[Row]:
        with self._connection() as conn:
            cursor = conn.execute(_native(sql), params)
            return cursor.fetchall() if cursor.description else []

    def _execute(self, sql: Any, params: tuple | list = ()) -> psycopg.Cursor[tuple]:
        """The statement's cursor with rows as value tuples, as SQLite's `_execute` gives
        (what tests that read a table directly rely on: tuple(row) is its values, where a
        dict row would give its column names). The result is held by the cursor, so it
        can be fetched after the connection goes back to the pool."""
        with self._connection() as conn:
            cursor = conn.cursor(row_factory=tuple_row)
            cursor.execute(_native(sql), params)
            return cursor

    def _run(self, sql: Any, params: tuple | list = ()) -> int:
        with self._connection() as conn:
            return conn.execute(_native(sql), params).rowcount

    def _run_many(self, sql: Any, rows: list) -> None:
        if rows:
            with self._connection() as conn, conn.cursor() as cursor:
                cursor.executemany(_native(sql), rows)

    @contextmanager
    def _outermost(self) -> Iterator[None]:
        with self._pool().connection() as conn:
            self._local.conn = conn
            try:
                with conn.transaction():
                    yield
            finally:
                self._local.conn = None

    @contextmanager
    def unsynced_transaction(self) -> Iterator[None]:
        with self.transaction():
            self._run("SET LOCAL synchronous_commit = off")
            yield

    def close(self) -> None:
        """Close the pools; a later call opens fresh ones (as SQLite reopens its file).

        A transaction this thread left open (an interrupted step) is rolled back with it.
        """
        self.end_runs_lease()
        with self._pools_guard:
            pools, self._data, self._locking = [self._data, self._locking], None, None
        for pool in pools:
            if pool is not None:
                pool.close()

    def _serialize(self, name: str) -> None:
        self._query("SELECT pg_advisory_xact_lock(?)", (advisory_key(name),))

    def _is_taken(self, exc: Exception, table: str) -> bool:
        return (
            isinstance(exc, psycopg.errors.UniqueViolation)
            and exc.diag.constraint_name == f"{table}_name_key"
        )

    # cross-process per-agent lock

    def _advisory_lock(self, agent_id: str) -> Release:
        # A session-level lock on a connection of its own: it must outlive the transactions
        # of the step (the LLM call happens between them), and a dead process's session
        # ending releases it.
        release = self._session_lock(f"agent:{agent_id}", wait=True)
        assert release is not None  # a waiting lock returns holding it
        return release

    def _try_lock(self, name: str) -> Release | None:
        return self._session_lock(name, wait=False)

    def _session_lock(self, name: str, *, wait: bool) -> Release | None:
        pool = self._pool(locking=True)
        conn = pool.getconn()
        key = advisory_key(name)
        try:
            if wait:
                conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            elif not conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (key,)).fetchone()[
                "got"
            ]:
                pool.putconn(conn)
                return None
        except BaseException:
            pool.putconn(conn)
            raise

        def release() -> None:
            try:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            finally:
                pool.putconn(conn)

        return release

    # how values travel: native timestamptz, jsonb, text[] and vector

    def _ts(self, value: datetime) -> datetime:
        return value

    def _from_ts(self, value: datetime) -> datetime:
        """In UTC whatever the session's time zone, as SQLite gives them."""
        return value.astimezone(UTC)

    def _json(self, value: Any) -> Jsonb:
        return Jsonb(value)

    def _from_json(self, value: Any) -> Any:
        return value

    def _tags(self, tags: list[str]) -> list[str]:
        return tags

    def _any(self, column: str, values: list) -> tuple[str, list]:
        return f"{column} = ANY(?)", [list(values)]

    def _has_tag(self, tags: list[str]) -> tuple[str, list]:
        return "p.tags && ?::text[]", [tags]
