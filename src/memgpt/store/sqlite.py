"""The embedded default store: one SQLite file holding every agent.

WAL journal with synchronous=FULL: a committed transaction survives a process
kill and a power cut. One connection per thread; `transaction()` nests, so a
step can call memory functions that write without committing halfway.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from memgpt.private import private_file
from memgpt.schemas import (
    AgentState,
    Block,
    BlockEdit,
    Message,
    ToolCall,
    inner_thoughts,
    sent_texts,
)
from memgpt.store.agent_locks import AgentLocks, file_lock
from memgpt.store.base import (
    SEARCH_BUDGET,
    SEARCH_COUNT_LIMIT,
    StoreError,
    ranked_words,
    search_words,
)
from memgpt.store.indexes import IndexSet
from memgpt.store.migrations import migrate_sqlite
from memgpt.store.sqlite_archival import ArchivalMixin
from memgpt.store.sqlite_sources import SourcesMixin
from memgpt.store.text_index import TextIndex

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width, so text order is time order


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime(_TIME_FORMAT)


def _parse_ts(text: str) -> datetime:
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)


def fts_query(words: list[str]) -> str:
    """An FTS5 query that matches any of the words (see `search_words`).

    Each word is quoted, so FTS syntax and SQL in a search string are plain text.
    """
    return " OR ".join(f'"{w}"' for w in words)


def searchable_text(message: Message) -> str | None:
    """What recall search sees: the user's words, the agent's thoughts and sent messages."""
    if message.role == "user" and message.event == "user_message":
        return message.text
    if message.role == "assistant":
        return "\n".join(p for p in [inner_thoughts(message), *sent_texts(message)] if p)
    return None


class SQLiteStore(ArchivalMixin, SourcesMixin):
    search_budget = SEARCH_BUDGET
    search_count_limit = SEARCH_COUNT_LIMIT

    def __init__(self, path: str | Path):
        self.path = private_file(Path(path))
        self._local = threading.local()
        migrate_sqlite(self._conn())
        # Vector indexes live next to the database file: <db>.vectors/<owner>.usearch
        self.indexes = IndexSet(self.vectors_dir(self.path), self._conn)
        # and the full-text index: <db>.text/
        self.text_index = TextIndex(self.path.with_name(self.path.name + ".text"), self._conn)
        # BEGIN IMMEDIATE serializes single writes, not a whole step (its LLM call runs
        # between transactions): per-agent lock files next to the database do that.
        self._agent_locks = AgentLocks(file_lock(self.path.with_name(self.path.name + ".locks")))

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
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
            self._local.depth = 0
        return conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        conn = self._conn()
        if self._local.depth:
            self._local.depth += 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        conn.execute("BEGIN IMMEDIATE")
        self._local.depth = 1
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")
        finally:
            self._local.depth = 0

    def agent_lock(self, agent_id: str) -> AbstractContextManager[None]:
        """Hold the agent against every other process using this database file."""
        return self._agent_locks.hold(agent_id)

    def _execute(self, sql: str, params: tuple | list = ()) -> sqlite3.Cursor:
        return self._conn().execute(sql, params)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def integrity_check(self) -> str:
        return self._execute("PRAGMA integrity_check").fetchone()[0]

    # agents

    def create_agent(self, state: AgentState) -> None:
        with self.transaction():
            if self._execute("SELECT 1 FROM agents WHERE name = ?", (state.name,)).fetchone():
                raise StoreError(
                    f"An agent named {state.name!r} already exists; pick another name."
                )
            self._execute(
                "INSERT INTO agents (id, name, state, created_at) VALUES (?, ?, ?, ?)",
                (state.id, state.name, self._state_json(state), _ts(state.created_at)),
            )
            self._write_blocks(state)

    def get_agent(self, id_or_name: str) -> AgentState | None:
        row = self._execute(
            "SELECT id, state FROM agents WHERE id = ? OR name = ?", (id_or_name, id_or_name)
        ).fetchone()
        return self._load_agent(row) if row else None

    def list_agents(self) -> list[AgentState]:
        rows = self._execute("SELECT id, state FROM agents ORDER BY created_at, name").fetchall()
        return [self._load_agent(row) for row in rows]

    def save_agent(self, state: AgentState) -> None:
        with self.transaction():
            updated = self._execute(
                "UPDATE agents SET name = ?, state = ? WHERE id = ?",
                (state.name, self._state_json(state), state.id),
            ).rowcount
            if not updated:
                raise StoreError(f"Agent {state.id} no longer exists.")
            self._execute("DELETE FROM blocks WHERE agent_id = ?", (state.id,))
            self._write_blocks(state)

    def delete_agent(self, agent_id: str) -> None:
        with self.transaction():
            self._execute(
                "DELETE FROM messages_fts WHERE rowid IN (SELECT pk FROM messages WHERE agent_id = ?)",
                (agent_id,),
            )
            self._execute("DELETE FROM agents WHERE id = ?", (agent_id,))
        self.indexes.drop(("agent_id", agent_id))
        self.text_index.drop(("agent_id", agent_id))

    @staticmethod
    def _state_json(state: AgentState) -> str:
        return state.model_dump_json(exclude={"blocks"})

    def _write_blocks(self, state: AgentState) -> None:
        self._conn().executemany(
            "INSERT INTO blocks (agent_id, label, value, char_limit, description, position)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (state.id, b.label, b.value, b.limit, b.description, i)
                for i, b in enumerate(state.blocks)
            ],
        )

    def _load_agent(self, row: sqlite3.Row) -> AgentState:
        blocks = [
            Block(
                label=b["label"],
                value=b["value"],
                limit=b["char_limit"],
                description=b["description"],
            )
            for b in self._execute(
                "SELECT * FROM blocks WHERE agent_id = ? ORDER BY position", (row["id"],)
            )
        ]
        return AgentState.model_validate({**json.loads(row["state"]), "blocks": blocks})

    # working context edit history

    def record_block_edit(self, edit: BlockEdit) -> None:
        self._execute(
            "INSERT INTO block_edits (agent_id, label, old_value, new_value, actor, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                edit.agent_id,
                edit.label,
                edit.old_value,
                edit.new_value,
                edit.actor,
                _ts(edit.created_at),
            ),
        )

    def block_history(self, agent_id: str, label: str | None = None) -> list[BlockEdit]:
        sql = "SELECT * FROM block_edits WHERE agent_id = ?"
        params: list = [agent_id]
        if label is not None:
            sql += " AND label = ?"
            params.append(label)
        return [
            BlockEdit(
                agent_id=r["agent_id"],
                label=r["label"],
                old_value=r["old_value"],
                new_value=r["new_value"],
                actor=r["actor"],
                created_at=_parse_ts(r["created_at"]),
            )
            for r in self._execute(sql + " ORDER BY pk", params)
        ]

    # recall storage

    def append_messages(self, agent_id: str, messages: list[Message]) -> None:
        with self.transaction():
            seq = self._execute(
                "SELECT COALESCE(MAX(seq), 0) FROM messages WHERE agent_id = ?", (agent_id,)
            ).fetchone()[0]
            for message in messages:
                seq += 1
                message.agent_id, message.seq = agent_id, seq
                pk = self._execute(
                    "INSERT INTO messages (id, agent_id, seq, role, event, text, tool_calls,"
                    " tool_call_id, name, created_at, in_context) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        message.id,
                        agent_id,
                        seq,
                        message.role,
                        message.event,
                        message.text,
                        json.dumps([c.model_dump() for c in message.tool_calls]),
                        message.tool_call_id,
                        message.name,
                        _ts(message.created_at),
                        int(message.in_context),
                    ),
                ).lastrowid
                body = searchable_text(message)
                if body:
                    self._execute(
                        "INSERT INTO messages_fts (rowid, body) VALUES (?, ?)", (pk, body)
                    )

    @staticmethod
    def _message(row: sqlite3.Row) -> Message:
        return Message(
            id=row["id"],
            agent_id=row["agent_id"],
            seq=row["seq"],
            role=row["role"],
            event=row["event"],
            text=row["text"],
            tool_calls=[ToolCall(**c) for c in json.loads(row["tool_calls"])],
            tool_call_id=row["tool_call_id"],
            name=row["name"],
            created_at=_parse_ts(row["created_at"]),
            in_context=bool(row["in_context"]),
        )

    def context_messages(self, agent_id: str) -> list[Message]:
        rows = self._execute(
            "SELECT * FROM messages WHERE agent_id = ? AND in_context = 1 ORDER BY seq", (agent_id,)
        )
        return [self._message(r) for r in rows]

    def evict_messages(self, agent_id: str, message_ids: list[str]) -> None:
        self._conn().executemany(
            "UPDATE messages SET in_context = 0 WHERE agent_id = ? AND id = ?",
            [(agent_id, mid) for mid in message_ids],
        )

    def delete_messages(self, agent_id: str, message_ids: list[str]) -> None:
        with self.transaction():
            for mid in message_ids:
                self._execute(
                    "DELETE FROM messages_fts WHERE rowid = "
                    "(SELECT pk FROM messages WHERE agent_id = ? AND id = ?)",
                    (agent_id, mid),
                )
                self._execute("DELETE FROM messages WHERE agent_id = ? AND id = ?", (agent_id, mid))

    def count_messages(self, agent_id: str) -> int:
        row = self._execute(
            "SELECT messages FROM agent_counts WHERE agent_id = ?", (agent_id,)
        ).fetchone()
        return row[0] if row else 0

    def last_seq(self, agent_id: str) -> int:
        return self._execute(
            "SELECT COALESCE(MAX(seq), 0) FROM messages WHERE agent_id = ?", (agent_id,)
        ).fetchone()[0]

    def list_messages(
        self, agent_id: str, limit: int = 100, before_seq: int | None = None
    ) -> list[Message]:
        """The newest `limit` messages before `before_seq`, oldest first."""
        rows = self._execute(
            "SELECT * FROM messages WHERE agent_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
            (agent_id, before_seq if before_seq is not None else 2**62, limit),
        ).fetchall()
        return [self._message(r) for r in reversed(rows)]

    def message_seq(self, agent_id: str, message_id: str) -> int | None:
        row = self._execute(
            "SELECT seq FROM messages WHERE agent_id = ? AND id = ?", (agent_id, message_id)
        ).fetchone()
        return row[0] if row else None

    def messages_page(
        self,
        agent_id: str,
        *,
        after_seq: int | None = None,
        before_seq: int | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[Message]:
        rows = self._execute(
            "SELECT * FROM messages WHERE agent_id = ? AND seq > ? AND seq < ?"
            f" ORDER BY seq {'DESC' if newest_first else 'ASC'} LIMIT ?",
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
        """See `Store.search_messages`.

        The full-text index holds every agent's messages: matches are counted, scored and
        ordered there alone, then walked in order, reading each one's owner, only until
        the page and the count are filled. BM25 reads a match's length (a few
        microseconds) and the owner is a row of `messages` (as much again): a search
        pays the first for at most the budget's matches, the second for about a page
        and the count.
        """
        words = search_words(query)
        if not words:
            return [], 0
        budget = self.search_budget
        matches = {
            w: self._execute(
                "SELECT COUNT(*) FROM (SELECT 1 FROM messages_fts WHERE messages_fts MATCH ?"
                " LIMIT ?)",
                (fts_query([w]), budget + 1),
            ).fetchone()[0]
            for w in words
        }
        ranked = ranked_words(matches, budget)
        # Enough of the agent's matches for the page, and one more than the count shows.
        wanted = max(offset + limit, self.search_count_limit + 1)
        mine: list[int] = []
        if ranked:
            scored = self._execute(
                "SELECT rowid, bm25(messages_fts) FROM messages_fts WHERE messages_fts MATCH ?",
                (fts_query(ranked),),
            ).fetchall()
            # Best first; an agent's pks grow with its seq, so ties go oldest first.
            scored.sort(key=lambda r: (r[1], r[0]))
            mine = self._owned(agent_id, [r[0] for r in scored], wanted)
        if not mine and len(ranked) < len(words):
            # Every word is common (or the rarer ones found none of this agent's messages):
            # no BM25, whose weights alone would read every match, but the newest first.
            newest = self._execute(
                "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?"
                " ORDER BY rowid DESC LIMIT ?",
                (fts_query(words), budget + 1),
            ).fetchall()
            mine = self._owned(agent_id, [r[0] for r in newest], wanted)
        page = self._messages_by_pk(mine[offset : offset + limit])
        return page, min(len(mine), self.search_count_limit + 1)

    def _owned(self, agent_id: str, pks: list[int], wanted: int) -> list[int]:
        """The agent's among `pks`, in their order: all of them, or at least `wanted`."""
        owned: list[int] = []
        for start in range(0, len(pks), wanted):
            batch = pks[start : start + wanted]
            # The list first (CROSS JOIN): each pk is one rowid lookup, where the planner
            # could otherwise read the agent's whole history through its agent_id indexes.
            mine = {
                r[0]
                for r in self._execute(
                    "SELECT m.pk FROM json_each(?) j CROSS JOIN messages m ON m.pk = j.value"
                    " WHERE m.agent_id = ?",
                    (json.dumps(batch), agent_id),
                )
            }
            owned += [pk for pk in batch if pk in mine]
            if len(owned) >= wanted:
                break
        return owned

    def _messages_by_pk(self, pks: list[int]) -> list[Message]:
        """The messages with these pks, in that order (less any deleted meanwhile)."""
        rows = self._execute(
            f"SELECT * FROM messages WHERE pk IN ({', '.join('?' * len(pks))})", pks
        ).fetchall()
        by_pk = {r["pk"]: r for r in rows}
        return [self._message(by_pk[pk]) for pk in pks if pk in by_pk]

    def messages_between(
        self, agent_id: str, start: datetime, end: datetime, limit: int, offset: int = 0
    ) -> tuple[list[Message], int]:
        where = (
            "agent_id = ? AND created_at >= ? AND created_at <= ?"
            " AND (role = 'assistant' OR event = 'user_message')"
        )
        params = (agent_id, _ts(start), _ts(end))
        total = self._execute(f"SELECT COUNT(*) FROM messages WHERE {where}", params).fetchone()[0]
        rows = self._execute(
            f"SELECT * FROM messages WHERE {where} ORDER BY seq LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [self._message(r) for r in rows], total
