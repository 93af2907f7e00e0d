"""The dialect seam: what SQLite and PostgreSQL do differently, and nothing else.

DESIGN: the store's logic (agents, recall, archival, sources, accounts) is written once
in `memgpt.store.sql`, in SQL both databases run, with `?` placeholders. Each dialect
(`memgpt.store.dialects`) subclasses it and fills in the hooks below: connections and
transactions, how timestamps, JSON and lists travel, which writers take turns, and the
indexes (FTS5 and tantivy with usearch on SQLite; tsvector and pgvector on PostgreSQL).
A subclass over the DB-API, not SQLAlchemy Core: no new dependency and no per-query
layer on the hot paths (a step's reads and writes, recall search); PostgreSQL's
placeholder rewrite is one dict lookup per statement.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from memgpt.store.agent_locks import AgentLocks
from memgpt.store.base import StoreError

if TYPE_CHECKING:
    import numpy as np

    from memgpt.schemas import Message

Owner = tuple[str, str]  # ("agent_id" | "source_id", id): whose passages
Row = Any  # a row read by column name: sqlite3.Row, or psycopg's dict row
Ranking = list[tuple[int, float]]  # (passage pk, score), best first
Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class Scope:
    """What an archival search covers: whose passages, and a WHERE clause (over `p`) with
    its parameters keeping those and what the filters allow."""

    owners: list[Owner]
    where: str
    params: list
    filtered: bool  # narrower than the owners' passages


class Seam(ABC):
    _local: threading.local  # this thread's connection and transaction depth
    # Appended to a SELECT to lock its rows until the transaction ends; SQLite's
    # BEGIN IMMEDIATE already holds the one write lock.
    _for_update = ""
    _agent_locks: AgentLocks  # lock files on SQLite, advisory locks on PostgreSQL

    def agent_lock(self, agent_id: str) -> AbstractContextManager[None]:
        """Hold the agent against every other process using this store (reentrant); the
        agent loop holds it for a whole event, LLM calls included."""
        return self._agent_locks.hold(agent_id)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction for the whole block; nested blocks join the outermost, so a
        step can call memory functions that write without committing halfway."""
        local = self._local
        if getattr(local, "depth", 0):
            local.depth += 1
            try:
                yield
            finally:
                local.depth -= 1
            return
        with self._outermost():
            local.depth = 1
            try:
                yield
            finally:
                local.depth = 0

    @abstractmethod
    def _outermost(self) -> AbstractContextManager[None]:
        """Begin a transaction on this thread's connection; commit it, or roll it back on
        an exception."""

    @abstractmethod
    def unsynced_transaction(self) -> AbstractContextManager[None]:
        """An outermost transaction whose commit need not reach the disk before it returns:
        the next ordinary commit makes it durable with itself (both databases flush their
        log in order). For bulk writes hidden until such a commit shows them (an import's
        batches), which then skip a flush each; a crash may lose one, never corrupt it."""

    @abstractmethod
    def _query(self, sql: str, params: tuple | list = ()) -> list[Row]:
        """The rows a statement gives (none for a write)."""

    @abstractmethod
    def _run(self, sql: str, params: tuple | list = ()) -> int:
        """Execute a write; return how many rows it touched."""

    @abstractmethod
    def _run_many(self, sql: str, rows: list) -> None: ...

    def _one(self, sql: str, params: tuple | list = ()) -> Row | None:
        rows = self._query(sql, params)
        return rows[0] if rows else None

    def _insert_named(self, table: str, name: str, kind: str, sql: str, params: tuple) -> None:
        """Insert a row of `table`, whose names are unique, in the caller's transaction;
        a name taken, also by another process meanwhile, is one StoreError naming it."""
        taken = StoreError(f"{kind} named {name!r} already exists; pick another name.")
        if self._one(f"SELECT 1 FROM {table} WHERE name = ?", (name,)):
            raise taken
        try:
            self._run(sql, params)
        except Exception as exc:
            if self._is_taken(exc, table):
                raise taken from None
            raise

    @abstractmethod
    def _serialize(self, name: str) -> None:
        """Make writers of `name` take turns until the transaction ends (SQLite's single
        writer already does)."""

    @abstractmethod
    def _try_lock(self, name: str) -> Callable[[], None] | None:
        """Take the cross-process lock `name` if no one holds it, returning its release;
        None if someone does. A dead process's locks are free (see agent_locks.py)."""

    @abstractmethod
    def _is_taken(self, exc: Exception, table: str) -> bool:
        """Whether `exc` is another writer taking the same name in `table` first."""

    # how values travel

    @abstractmethod
    def _ts(self, value: datetime) -> Any: ...

    @abstractmethod
    def _from_ts(self, value: Any) -> datetime:
        """A stored timestamp, in UTC."""

    @abstractmethod
    def _json(self, value: Any) -> Any: ...

    @abstractmethod
    def _from_json(self, value: Any) -> Any: ...

    @abstractmethod
    def _tags(self, tags: list[str]) -> Any:
        """A passage's tags as the `tags` column holds them."""

    @abstractmethod
    def _vector(self, embedding: list[float] | None) -> Any: ...

    def _record(
        self, model: type[Model], row: Row, *, times: tuple = ("created_at",), json: tuple = ()
    ) -> Model:
        """The model whose fields are the row's columns (others ignored), reading the
        timestamp and JSON ones as stored."""
        values = dict(row)
        for name in times:
            if values[name] is not None:
                values[name] = self._from_ts(values[name])
        for name in json:
            values[name] = self._from_json(values[name])
        return model(**values)

    @abstractmethod
    def _any(self, column: str, values: list) -> tuple[str, list]:
        """A clause true where `column` is one of `values`, and its parameters."""

    @abstractmethod
    def _has_tag(self, tags: list[str]) -> tuple[str, list]:
        """A clause true for a passage `p` carrying any of `tags`, and its parameters."""

    # full text and vector indexes

    @abstractmethod
    def search_messages(
        self, agent_id: str, query: str, limit: int, offset: int = 0
    ) -> tuple[list[Message], int]:
        """A page of the agent's messages with any of the query's words, and how many there
        are, up to `search_count_limit` (a total above it means "more than that").
        Searchable text only: the user's words, the agent's thoughts and replies.

        Best first by BM25, over the words `ranked_words` keeps within `search_budget`
        matches (counted where the store's search reads them). When every word is more
        common than that (or the rarer ones find none of this agent's messages), the
        newest of at most `search_budget` + 1 matches come first instead.
        """

    @abstractmethod
    def _recall_text_ranking(self, agent_id: str, query: str, depth: int) -> list[int]:
        """The seqs of the first `depth` messages `search_messages` lists, best first."""

    @abstractmethod
    def _add_messages(self, rows: list[tuple]) -> None:
        """Insert message rows, each ending with what recall search sees (or None)."""

    @abstractmethod
    def _forget_messages(self, agent_id: str, message_ids: list[str] | None) -> None:
        """Take the messages (every one of the agent's for None) out of the full-text index."""

    @abstractmethod
    def _add_passages(self, rows: list[tuple]) -> None:
        """Insert passage rows: every column but pk, in `_insert_rows`' order."""

    @abstractmethod
    def _dropped(self, owner: Owner, pks: list[int] | None = None) -> None:
        """The owner's passages (those pks, or all) are gone: out of the indexes with them."""

    @abstractmethod
    def _text_ranking(self, scope: Scope, query: str, depth: int) -> Ranking:
        """Full text's best `depth` passages in scope."""

    @abstractmethod
    def _vector_ranking(self, scope: Scope, query: np.ndarray, depth: int) -> Ranking:
        """The `depth` passages in scope most similar to `query`, as (pk, cosine)."""

    # semantic recall (`recall_vectors.py`)

    @abstractmethod
    def _prepare_message_vectors(self, dims: set[int]) -> None:
        """Ready the index for message vectors of these dimensions, in the caller's
        transaction (before they are inserted)."""

    @abstractmethod
    def _index_message_vectors(self, agent_id: str) -> None:
        """The agent's new vectors are committed: index them if the dialect has to."""

    @abstractmethod
    def _recall_vector_ranking(
        self, agent_id: str, query: np.ndarray, depth: int
    ) -> list[tuple[int, float]]:
        """The agent's `depth` embedded messages most similar to `query`, as (seq, cosine)."""
