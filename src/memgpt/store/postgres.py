"""The server store: PostgreSQL with pgvector, for many processes sharing one database.

Chosen by `MEMGPT_PG_URI` (see `memgpt.client`). It behaves exactly as the SQLite
store does; the same test suite runs against both.

Connections come from a pool and run in autocommit mode; `transaction()` pins one
to the calling thread for the whole block and nests like SQLite's (only the
outermost block begins and commits), so a step's writes commit together. A
second small pool holds the sessions that own per-agent advisory locks
(`agent_lock`), which stay held while the LLM is called between transactions.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from pgvector.psycopg import register_vector
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from memgpt.schemas import AgentState, Block, BlockEdit, Message, ToolCall
from memgpt.store.agent_locks import AgentLocks, Release
from memgpt.store.base import (
    SEARCH_BUDGET,
    SEARCH_COUNT_LIMIT,
    StoreError,
    ranked_words,
    search_words,
)
from memgpt.store.postgres_archival import PostgresArchivalMixin
from memgpt.store.postgres_migrations import advisory_key, migrate_postgres
from memgpt.store.postgres_sources import PostgresSourcesMixin
from memgpt.store.sqlite import searchable_text

Row = dict[str, Any]


def utc(value: datetime) -> datetime:
    """Timestamps read back in UTC whatever the session's time zone, as SQLite gives them."""
    return value.astimezone(UTC)


class PostgresStore(PostgresArchivalMixin, PostgresSourcesMixin):
    search_budget = SEARCH_BUDGET
    search_count_limit = SEARCH_COUNT_LIMIT

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

    def _query(self, sql: Any, params: tuple | list | dict = ()) -> list[Row]:
        with self._connection() as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def _execute(self, sql: Any, params: tuple | list | dict = ()) -> psycopg.Cursor[tuple]:
        """The statement's cursor with rows as value tuples, as SQLite's `_execute` gives
        (what tests that read a table directly rely on: tuple(row) is its values, where a
        dict row would give its column names). The result is held by the cursor, so it
        can be fetched after the connection goes back to the pool."""
        with self._connection() as conn:
            cursor = conn.cursor(row_factory=tuple_row)
            cursor.execute(sql, params)
            return cursor

    def _one(self, sql: Any, params: tuple | list | dict = ()) -> Row | None:
        rows = self._query(sql, params)
        return rows[0] if rows else None

    def _run(self, sql: Any, params: tuple | list | dict = ()) -> int:
        """Execute a write; return how many rows it touched."""
        with self._connection() as conn:
            return conn.execute(sql, params).rowcount

    def _run_many(self, sql: Any, rows: list) -> None:
        if rows:
            with self._connection() as conn, conn.cursor() as cursor:
                cursor.executemany(sql, rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if getattr(self._local, "depth", 0):
            self._local.depth += 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        with self._pool().connection() as conn:
            self._local.conn, self._local.depth = conn, 1
            try:
                with conn.transaction():
                    yield
            finally:
                self._local.conn, self._local.depth = None, 0

    def close(self) -> None:
        """Close the pools; a later call opens fresh ones (as SQLite reopens its file).

        A transaction this thread left open (an interrupted step) is rolled back with it.
        """
        with self._pools_guard:
            pools, self._data, self._locking = [self._data, self._locking], None, None
        for pool in pools:
            if pool is not None:
                pool.close()

    # cross-process per-agent lock

    def agent_lock(self, agent_id: str) -> AbstractContextManager[None]:
        """Hold the agent across every process using this database, until the block ends."""
        return self._agent_locks.hold(agent_id)

    def _advisory_lock(self, agent_id: str) -> Release:
        # A session-level lock on a connection of its own: it must outlive the transactions
        # of the step (the LLM call happens between them), and a dead process's session
        # ending releases it.
        pool = self._pool(locking=True)
        conn = pool.getconn()
        key = advisory_key(f"agent:{agent_id}")
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        except BaseException:
            pool.putconn(conn)
            raise

        def release() -> None:
            try:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            finally:
                pool.putconn(conn)

        return release

    # agents

    def create_agent(self, state: AgentState) -> None:
        with self.transaction():
            taken = StoreError(f"An agent named {state.name!r} already exists; pick another name.")
            if self._one("SELECT 1 FROM agents WHERE name = %s", (state.name,)):
                raise taken
            try:
                self._run(
                    "INSERT INTO agents (id, name, state, created_at) VALUES (%s, %s, %s, %s)",
                    (state.id, state.name, self._state_json(state), state.created_at),
                )
            except psycopg.errors.UniqueViolation as exc:
                # Another process took the name between the check and the insert.
                if exc.diag.constraint_name == "agents_name_key":
                    raise taken from None
                raise
            self._write_blocks(state)

    def get_agent(self, id_or_name: str) -> AgentState | None:
        row = self._one(
            "SELECT id, state FROM agents WHERE id = %s OR name = %s", (id_or_name, id_or_name)
        )
        return self._load_agent(row) if row else None

    def list_agents(self) -> list[AgentState]:
        rows = self._query("SELECT id, state FROM agents ORDER BY created_at, name")
        return [self._load_agent(row) for row in rows]

    def save_agent(self, state: AgentState) -> None:
        with self.transaction():
            updated = self._run(
                "UPDATE agents SET name = %s, state = %s WHERE id = %s",
                (state.name, self._state_json(state), state.id),
            )
            if not updated:
                raise StoreError(f"Agent {state.id} no longer exists.")
            self._run("DELETE FROM blocks WHERE agent_id = %s", (state.id,))
            self._write_blocks(state)

    def delete_agent(self, agent_id: str) -> None:
        self._run("DELETE FROM agents WHERE id = %s", (agent_id,))

    @staticmethod
    def _state_json(state: AgentState) -> Jsonb:
        return Jsonb(state.model_dump(mode="json", exclude={"blocks"}))

    def _write_blocks(self, state: AgentState) -> None:
        self._run_many(
            "INSERT INTO blocks (agent_id, label, value, char_limit, description, position)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (state.id, b.label, b.value, b.limit, b.description, i)
                for i, b in enumerate(state.blocks)
            ],
        )

    def _load_agent(self, row: Row) -> AgentState:
        blocks = [
            Block(
                label=b["label"],
                value=b["value"],
                limit=b["char_limit"],
                description=b["description"],
            )
            for b in self._query(
                "SELECT * FROM blocks WHERE agent_id = %s ORDER BY position", (row["id"],)
            )
        ]
        return AgentState.model_validate({**row["state"], "blocks": blocks})

    # working context edit history

    def record_block_edit(self, edit: BlockEdit) -> None:
        self._run(
            "INSERT INTO block_edits (agent_id, label, old_value, new_value, actor, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (
                edit.agent_id,
                edit.label,
                edit.old_value,
                edit.new_value,
                edit.actor,
                edit.created_at,
            ),
        )

    def block_history(self, agent_id: str, label: str | None = None) -> list[BlockEdit]:
        sql = "SELECT * FROM block_edits WHERE agent_id = %s"
        params: list = [agent_id]
        if label is not None:
            sql += " AND label = %s"
            params.append(label)
        return [
            BlockEdit(
                agent_id=r["agent_id"],
                label=r["label"],
                old_value=r["old_value"],
                new_value=r["new_value"],
                actor=r["actor"],
                created_at=utc(r["created_at"]),
            )
            for r in self._query(sql + " ORDER BY pk", params)
        ]

    # recall storage

    def append_messages(self, agent_id: str, messages: list[Message]) -> None:
        with self.transaction():
            # The counts row is the agent's write lock: appends to one agent from several
            # processes take sequence numbers one after another (SQLite's BEGIN IMMEDIATE).
            self._one("SELECT 1 FROM agent_counts WHERE agent_id = %s FOR UPDATE", (agent_id,))
            seq = self.last_seq(agent_id)
            rows = []
            for message in messages:
                seq += 1
                message.agent_id, message.seq = agent_id, seq
                rows.append(
                    (
                        message.id,
                        agent_id,
                        seq,
                        message.role,
                        message.event,
                        message.text,
                        Jsonb([c.model_dump() for c in message.tool_calls]),
                        message.tool_call_id,
                        message.name,
                        message.created_at,
                        message.in_context,
                        searchable_text(message),
                    )
                )
            self._run_many(
                "INSERT INTO messages (id, agent_id, seq, role, event, text, tool_calls,"
                " tool_call_id, name, created_at, in_context, body) VALUES"
                " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, to_tsvector('memgpt', %s))",
                rows,
            )

    @staticmethod
    def _message(row: Row) -> Message:
        return Message(
            id=row["id"],
            agent_id=row["agent_id"],
            seq=row["seq"],
            role=row["role"],
            event=row["event"],
            text=row["text"],
            tool_calls=[ToolCall(**c) for c in row["tool_calls"]],
            tool_call_id=row["tool_call_id"],
            name=row["name"],
            created_at=utc(row["created_at"]),
            in_context=row["in_context"],
        )

    _columns = "id, agent_id, seq, role, event, text, tool_calls, tool_call_id, name, created_at, in_context"

    def context_messages(self, agent_id: str) -> list[Message]:
        rows = self._query(
            f"SELECT {self._columns} FROM messages WHERE agent_id = %s AND in_context ORDER BY seq",
            (agent_id,),
        )
        return [self._message(r) for r in rows]

    def evict_messages(self, agent_id: str, message_ids: list[str]) -> None:
        self._run(
            "UPDATE messages SET in_context = false WHERE agent_id = %s AND id = ANY(%s)",
            (agent_id, message_ids),
        )

    def delete_messages(self, agent_id: str, message_ids: list[str]) -> None:
        self._run(
            "DELETE FROM messages WHERE agent_id = %s AND id = ANY(%s)", (agent_id, message_ids)
        )

    def count_messages(self, agent_id: str) -> int:
        row = self._one("SELECT messages FROM agent_counts WHERE agent_id = %s", (agent_id,))
        return row["messages"] if row else 0

    def last_seq(self, agent_id: str) -> int:
        row = self._one(
            "SELECT COALESCE(MAX(seq), 0) AS seq FROM messages WHERE agent_id = %s", (agent_id,)
        )
        return row["seq"]

    def list_messages(
        self, agent_id: str, limit: int = 100, before_seq: int | None = None
    ) -> list[Message]:
        """The newest `limit` messages before `before_seq`, oldest first."""
        rows = self._query(
            f"SELECT {self._columns} FROM messages WHERE agent_id = %s AND seq < %s"
            " ORDER BY seq DESC LIMIT %s",
            (agent_id, before_seq if before_seq is not None else 2**62, limit),
        )
        return [self._message(r) for r in reversed(rows)]

    def message_seq(self, agent_id: str, message_id: str) -> int | None:
        row = self._one(
            "SELECT seq FROM messages WHERE agent_id = %s AND id = %s", (agent_id, message_id)
        )
        return row["seq"] if row else None

    def messages_page(
        self,
        agent_id: str,
        *,
        after_seq: int | None = None,
        before_seq: int | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[Message]:
        """Keyed paging through the (agent_id, seq) unique index, as on SQLite."""
        rows = self._query(
            f"SELECT {self._columns} FROM messages WHERE agent_id = %s AND seq > %s AND seq < %s"
            f" ORDER BY seq {'DESC' if newest_first else 'ASC'} LIMIT %s",
            (
                agent_id,
                after_seq if after_seq is not None else -1,
                before_seq if before_seq is not None else 2**62,
                limit,
            ),
        )
        return [self._message(r) for r in rows]

    def search_messages(
        self, agent_id: str, query: str, limit: int, offset: int = 0
    ) -> tuple[list[Message], int]:
        """See `Store.search_messages`: ts_rank plays BM25's part, within the same budget,
        and matches are counted among the agent's own messages (the GIN index and the
        agent's rows are read together, unlike SQLite's index of every agent)."""
        words = search_words(query)
        # Each word goes through plainto_tsquery as a bound parameter, so SQL and tsquery
        # syntax in the search text are plain words. Its tsquery comes back as text and
        # goes into each query as a constant: the planner sees it (and picks the GIN index
        # or a scan by how common the word is), and no row parses it again.
        lexemes = {
            r["w"]: r["q"]
            for r in self._query(
                "SELECT w, plainto_tsquery('memgpt', w)::text AS q FROM unnest(%s::text[]) AS w",
                (words,),
            )
        }
        words = [w for w in words if lexemes.get(w)]  # none: no letters it could match
        if not words:
            return [], 0
        budget = self.search_budget

        def any_of(chosen: list[str]) -> str:
            return " | ".join(f"({lexemes[w]})" for w in chosen)

        # Most queries match few messages: then one query ranks and counts them all.
        rows, total = self._page(agent_id, any_of(words), limit, offset)
        if total > budget:
            one = (
                "(SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE agent_id = %s"
                " AND body @@ %s::tsquery LIMIT %s) s)"
            )
            counts = self._query(
                "SELECT " + ", ".join(f"{one} AS n{i}" for i in range(len(words))),
                [p for w in words for p in (agent_id, lexemes[w], budget + 1)],
            )[0]
            ranked = ranked_words(dict(zip(words, counts.values(), strict=True)), budget)
            rows, total = self._page(agent_id, any_of(ranked), limit, offset) if ranked else ([], 0)
            if not total:
                # Every word is common (or the rarer ones found nothing): the newest first,
                # which the (agent_id, seq) index gives without ranking every match.
                rows, total = self._page(agent_id, any_of(words), limit, offset, newest=True)
        # Counted exactly up to the budget here, but shown as SQLite can afford to count.
        return [self._message(r) for r in rows], min(total, self.search_count_limit + 1)

    def _page(
        self, agent_id: str, tsquery: str, limit: int, offset: int, *, newest: bool = False
    ) -> tuple[list[Row], int]:
        """A page of the agent's messages matching the tsquery, best first by ts_rank (or
        newest first), and how many match, counted up to the budget + 1."""
        where = "WHERE agent_id = %s AND body @@ %s::tsquery"
        if newest:
            matches = f"SELECT {self._columns} FROM messages {where} ORDER BY seq DESC LIMIT %s"
            params: list = [agent_id, tsquery, self.search_budget + 1]
            order = "seq DESC"
        else:
            matches = f"SELECT {self._columns}, ts_rank(body, %s::tsquery, 1) AS score"
            matches += f" FROM messages {where} LIMIT %s"
            params = [tsquery, agent_id, tsquery, self.search_budget + 1]
            order = "score DESC, seq"
        # The count is a window over the matches, taken before the page is cut from them.
        rows = self._query(
            f"SELECT *, COUNT(*) OVER () AS total FROM ({matches}) m"
            f" ORDER BY {order} LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
        if rows:
            return rows, rows[0]["total"]
        # Past the last page, or nothing matched: the count on its own.
        counted = self._one(
            f"SELECT COUNT(*) AS n FROM (SELECT 1 FROM messages {where} LIMIT %s) m",
            (agent_id, tsquery, self.search_budget + 1),
        )
        return [], counted["n"]

    def messages_between(
        self, agent_id: str, start: datetime, end: datetime, limit: int, offset: int = 0
    ) -> tuple[list[Message], int]:
        where = (
            "agent_id = %s AND created_at >= %s AND created_at <= %s"
            " AND (role = 'assistant' OR event = 'user_message')"
        )
        params = (agent_id, start, end)
        total = self._one(f"SELECT COUNT(*) AS n FROM messages WHERE {where}", params)["n"]
        rows = self._query(
            f"SELECT {self._columns} FROM messages WHERE {where} ORDER BY seq LIMIT %s OFFSET %s",
            (*params, limit, offset),
        )
        return [self._message(r) for r in rows], total
