"""The embedded default store: one SQLite file holding every agent.

WAL journal with synchronous=FULL: a committed transaction survives a process
kill and a power cut. One connection per thread; `transaction()` nests, so a
step can call memory functions that write without committing halfway. Recall
search uses FTS5 (`sqlite_recall.py`) and usearch (`sqlite_message_vectors.py`); archival
search tantivy and usearch (`sqlite_archival.py`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memgpt.private import private_file
from memgpt.store.agent_locks import AgentLocks, Release, file_lock, try_file_lock
from memgpt.store.base import StoreError
from memgpt.store.dialects.sqlite_archival import SQLiteArchival
from memgpt.store.dialects.sqlite_message_vectors import SQLiteMessageVectors
from memgpt.store.dialects.sqlite_recall import SCRATCH_TABLES, SQLiteRecall
from memgpt.store.indexes.owners import IndexSet
from memgpt.store.indexes.text import TextIndex
from memgpt.store.migrations import migrate_sqlite
from memgpt.store.sql.recall_vectors import RecallVectorsSQL
from memgpt.store.sql.seam import Owner, Row
from memgpt.store.sql.store import SQLStore

if TYPE_CHECKING:
    pass

BUSY_TIMEOUT_S = 30  # how long a writer waits for the database before giving up
# Each connection's page cache, in KiB (SQLite's default: 2 MiB). A recall search reads
# its words' full-text lists and lengths and its vector hits' rows; with 2 MiB they pushed
# each other out and every page came back through a read() call: at 1M messages 1.0 ms of
# system CPU a text search and 1.7 ms a hybrid one, 0-0.6 ms with 32 MiB. (Mapping the
# file instead did as well, but put every page any scan touched into the process's RSS:
# +700 MB at 1M.) The cache fills only as far as a connection reads.
CACHE_KIB = 32 * 1024
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width, so text order is time order


def ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime(_TIME_FORMAT)


def from_ts(text: str) -> datetime:
    """A time `ts` wrote (its Z reads as UTC): ISO parsing takes 0.1 us where strptime
    took 20, for every message a search or a step reads."""
    return datetime.fromisoformat(text)


class SQLiteStore(SQLiteRecall, SQLiteArchival, SQLiteMessageVectors, RecallVectorsSQL, SQLStore):
    def __init__(self, path: str | Path):
        self.path = private_file(Path(path))
        self._local = threading.local()
        self._writer = threading.Lock()  # see _outermost
        migrate_sqlite(self._conn())
        # Vector indexes live next to the database file: <db>.vectors/<owner>.usearch
        self.indexes = IndexSet(self.vectors_dir(self.path), self._conn)
        # and the full-text indexes, one per owner: <db>.text/<owner>/
        self.text_index = TextIndex(self.path.with_name(self.path.name + ".text"), self._conn)
        # and semantic recall's, one graph per agent: <db>.recall/<agent>.usearch
        self.recall_indexes = IndexSet(
            self.path.with_name(self.path.name + ".recall"), self._conn, "message_vectors"
        )
        # BEGIN IMMEDIATE serializes single writes, not a whole step (its LLM call runs
        # between transactions): per-agent lock files next to the database do that.
        self._locks_dir = self.path.with_name(self.path.name + ".locks")
        self._agent_locks = AgentLocks(file_lock(self._locks_dir))

    @staticmethod
    def vectors_dir(db_path: Path) -> Path:
        return db_path.with_name(db_path.name + ".vectors")

    # connections

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode = WAL")
            except sqlite3.DatabaseError as exc:
                raise StoreError(
                    f"{self.path} is not a memgpt database ({exc}); move it aside or set MEMGPT_HOME."
                ) from exc
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            conn.row_factory = sqlite3.Row
            for statement in SCRATCH_TABLES:
                conn.execute(statement)
            self._local.conn = conn
            self._local.depth = 0
        return conn

    @contextmanager
    def _outermost(self) -> Iterator[None]:
        # This process's writers queue on a lock of its own rather than on SQLite's busy
        # handler, which sleeps up to 100 ms between tries: a writer behind a short
        # transaction (an import's batch) starts when it ends. Other processes still
        # take turns through the busy handler.
        if not self._writer.acquire(timeout=BUSY_TIMEOUT_S):
            raise StoreError(
                f"The database stayed busy for {BUSY_TIMEOUT_S} s; try again in a moment."
            )
        try:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            self._writer.release()

    @contextmanager
    def unsynced_transaction(self) -> Iterator[None]:
        conn = self._conn()
        conn.execute("PRAGMA synchronous = NORMAL")  # in WAL mode: no fsync at commit
        try:
            with self.transaction():
                yield
        finally:
            conn.execute("PRAGMA synchronous = FULL")

    def _try_lock(self, name: str) -> Release | None:
        return try_file_lock(self._locks_dir, name)

    def _dropped(self, owner: Owner, pks: list[int] | None = None) -> None:
        super()._dropped(owner, pks)
        if pks is None:  # an agent deleted: its messages' graph too
            self.recall_indexes.drop(owner)

    def _execute(self, sql: str, params: tuple | list = ()) -> sqlite3.Cursor:
        return self._conn().execute(sql, params)

    def _query(self, sql: str, params: tuple | list = ()) -> list[Row]:
        return self._conn().execute(sql, params).fetchall()

    def _run(self, sql: str, params: tuple | list = ()) -> int:
        return self._conn().execute(sql, params).rowcount

    def _run_many(self, sql: str, rows: list) -> None:
        self._conn().executemany(sql, rows)

    def _serialize(self, name: str) -> None:
        """Nothing to do: BEGIN IMMEDIATE took the database's one write lock."""

    def _is_taken(self, exc: Exception, table: str) -> bool:
        return isinstance(exc, sqlite3.IntegrityError) and f"{table}.name" in str(exc)

    def close(self) -> None:
        self.end_runs_lease()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def integrity_check(self) -> str:
        return self._execute("PRAGMA integrity_check").fetchone()[0]

    # how values travel: text, as SQLite has no time or JSON types

    _ts = staticmethod(ts)
    _from_ts = staticmethod(from_ts)

    def _json(self, value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def _from_json(self, value: str) -> Any:
        return json.loads(value)

    _tags = _json

    def _vector(self, embedding: list[float] | None) -> bytes | None:
        if embedding is None:
            return None
        import numpy as np  # on first use: the server and `memgpt run` start without it

        return np.asarray(embedding, dtype=np.float32).tobytes()

    def _any(self, column: str, values: list) -> tuple[str, list]:
        return f"{column} IN ({','.join('?' * len(values))})", list(values)

    def _has_tag(self, tags: list[str]) -> tuple[str, list]:
        marks = ",".join("?" * len(tags))
        return f"EXISTS (SELECT 1 FROM json_each(p.tags) t WHERE t.value IN ({marks}))", tags
