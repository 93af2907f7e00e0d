"""Persistence behind one interface. SQLite is the embedded default; PostgreSQL serves many processes.

Every write made inside `transaction()` commits together or not at all: the agent
loop wraps each step in one, which is what makes a step atomic (DESIGN invariant 2).
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel, Field
from stopwords import get_stopwords

from memgpt.errors import MemGPTError
from memgpt.schemas import (
    AgentState,
    Block,
    BlockEdit,
    EmbeddingConfig,
    Message,
    Passage,
    new_id,
    utcnow,
)


class StoreError(MemGPTError):
    """A store operation the user asked for cannot be done; one sentence saying why."""


# Recall search ranks at most this many full-text matches: scoring costs microseconds a
# match, so a word found in a large part of a long history would make one search cost a
# second. Counting a word's matches up to the budget is cheap.
SEARCH_BUDGET = 2000
# ...and counts its results up to this many: a total of SEARCH_COUNT_LIMIT + 1 means
# "more than that", as search engines say "about" (an agent reads pages of five).
SEARCH_COUNT_LIMIT = 100
_WORD = re.compile(r"\w+", re.UNICODE)


# Words like "what", "did", "to": they carry no meaning a search can rank by, yet match
# most of a history, and a held-out evaluation of conversation_search found them to be
# the whole gap to plain BM25 without them. The classic English list (175 words, as
# Snowball's), from the `stopwords` package.
STOPWORDS = frozenset(get_stopwords("english"))


def _words(text: str) -> list[str]:
    """The words of a search string, each once (search is case-insensitive)."""
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(text)))


def content_words(text: str) -> list[str]:
    """The words of a search string that carry meaning: what archival search ranks by."""
    return [w for w in _words(text) if w not in STOPWORDS]


def search_words(text: str) -> list[str]:
    """What recall search ranks by: the content words, or for a query of nothing but
    stopwords ("what did I say"), all of them, whose newest matches are listed."""
    words = _words(text)
    return [w for w in words if w not in STOPWORDS] or words


def ranked_words(matches: dict[str, int], budget: int) -> list[str]:
    """The words a search ranks by: the rarest, as long as their matches (each counted up
    to budget + 1) add up to at most `budget`.

    A word found in more messages than that says little about which are relevant (BM25
    gives it a low weight anyway), so a query with rarer words is ranked by them alone,
    as search engines drop stopwords. Empty when even the rarest word is that common.
    """
    kept, total = [], 0
    for word, n in sorted(matches.items(), key=lambda item: item[1]):
        if total + n > budget:
            break
        kept.append(word)
        total += n
    return kept


RunStatus = Literal["created", "running", "completed", "failed", "cancelled"]


class Run(BaseModel):
    """One message's processing, as Letta's runs: its steps and why it stopped."""

    id: str = Field(default_factory=lambda: new_id("run"))
    agent_id: str
    status: RunStatus = "created"
    background: bool = False
    stop_reason: str | None = None  # Letta's stop reason, once the run has ended
    created_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None
    owner: str | None = None  # the store (server process) working on it; see sql/runs.py


class RunStep(BaseModel):
    """One committed step of a run: its model, tokens, time and the messages it made."""

    id: str = Field(default_factory=lambda: new_id("step"))
    run_id: str
    agent_id: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    duration_ns: int = 0
    stop_reason: str | None = None  # None: the chain went on to another step
    first_seq: int = 0
    last_seq: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class Source(BaseModel):
    """A named collection of documents; agents attach it to search its passages."""

    id: str = Field(default_factory=lambda: new_id("source"))
    name: str
    description: str = ""
    # Passages are only comparable with queries embedded by the same model.
    embedding: EmbeddingConfig
    created_at: datetime = Field(default_factory=utcnow)


class SourceFile(BaseModel):
    """One file loaded into a source; 'done' is committed with the file's passages."""

    source_id: str
    path: str
    sha256: str | None
    status: Literal["done", "failed"]
    passages: int = 0
    error: str | None = None
    loaded_at: datetime = Field(default_factory=utcnow)
    # What the file tools read, stored with a 'done' file: its name within the load
    # (relative to the folder loaded) and its extracted text.
    name: str | None = None
    text: str | None = None


class FileText(BaseModel):
    """A loaded file's extracted text, as the file tools open and grep it."""

    source_id: str
    name: str
    text: str


class ArchivalFilter(BaseModel):
    """Restrictions on an archival search; every field left empty means 'any'."""

    sources: list[str] = Field(default_factory=list)  # source names (the passages' `source`)
    tags: list[str] = Field(default_factory=list)  # a passage matches if it has any of them
    start: datetime | None = None
    end: datetime | None = None


class ArchivalHit(BaseModel):
    """A passage found by hybrid search, with how each ranking saw it (None: not in that list)."""

    passage: Passage
    score: float  # weighted reciprocal rank fusion of the two rankings (fusion.py)
    similarity: float | None = None  # cosine similarity to the query embedding
    bm25: float | None = None  # FTS5 BM25 (higher is better here)
    vector_rank: int | None = None
    text_rank: int | None = None


class Store(Protocol):
    search_budget: int  # SEARCH_BUDGET; tests lower these two
    search_count_limit: int  # SEARCH_COUNT_LIMIT

    def transaction(self) -> AbstractContextManager[None]: ...
    def unsynced_transaction(self) -> AbstractContextManager[None]:
        """A transaction that the next ordinary commit makes durable (see sql/seam.py)."""
        ...

    def close(self) -> None: ...

    def agent_lock(self, agent_id: str) -> AbstractContextManager[None]:
        """Hold the agent against every other process using this store (reentrant); the
        agent loop holds it for a whole event, LLM calls included."""
        ...

    # agents
    def create_agent(self, state: AgentState) -> None: ...
    def get_agent(self, id_or_name: str) -> AgentState | None: ...
    def list_agents(self) -> list[AgentState]: ...
    def timed_agents(self) -> list[AgentState]:
        """Agents with a heartbeat interval or a sleep-time agent (the scheduler's)."""
        ...

    def save_agent(self, state: AgentState) -> None: ...
    def delete_agent(self, agent_id: str) -> None: ...

    # working context blocks: shared by every agent they are attached to
    def create_block(self, block: Block) -> None: ...
    def get_block(self, block_id: str) -> Block | None: ...
    def agent_blocks(self, agent_id: str) -> list[Block]: ...
    def update_block(self, block: Block) -> None: ...
    def delete_block(self, block_id: str) -> None: ...
    def attach_block(self, agent_id: str, block_id: str) -> None: ...
    def detach_block(self, agent_id: str, block_id: str) -> bool: ...
    def block_agents(self, block_id: str) -> list[str]: ...
    def lock_block(self, block_id: str) -> Block | None:
        """The block as last committed, held against other writers until the transaction
        ends."""
        ...

    def apply_block_edit(self, edit: BlockEdit) -> None: ...
    def block_history(self, block_id: str) -> list[BlockEdit]: ...

    # agent-file imports in progress: hidden until finished (sql/imports.py)
    def begin_import(self, agent_id: str) -> None: ...
    def finish_import(self, agent_id: str) -> None: ...
    def unfinished_imports(self) -> list[str]: ...
    def drop_import(self, agent_id: str) -> None: ...
    def drop_unfinished_imports(self) -> int: ...

    # recall storage: every message ever; the FIFO queue is the subset with in_context set
    def append_messages(self, agent_id: str, messages: list[Message]) -> None: ...
    def context_messages(self, agent_id: str) -> list[Message]: ...
    def evict_messages(self, agent_id: str, message_ids: list[str]) -> None: ...
    def delete_messages(self, agent_id: str, message_ids: list[str]) -> None: ...
    def count_messages(self, agent_id: str) -> int: ...
    def last_seq(self, agent_id: str) -> int:
        """The newest message's sequence number (0 for none): cheap, to notice new writes."""
        ...

    def list_messages(
        self, agent_id: str, limit: int = 100, before_seq: int | None = None
    ) -> list[Message]: ...
    def message_seq(self, agent_id: str, message_id: str) -> int | None:
        """The message's sequence number in the agent's history (None: no such message)."""
        ...

    def messages_page(
        self,
        agent_id: str,
        *,
        after_seq: int | None = None,
        before_seq: int | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[Message]:
        """Keyed paging: at most `limit` messages with after_seq < seq < before_seq (either
        bound optional), oldest first or newest first, read through the (agent_id, seq)
        index, so a page costs the same at any history length."""
        ...

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
        ...

    def messages_between(
        self, agent_id: str, start: datetime, end: datetime, limit: int, offset: int = 0
    ) -> tuple[list[Message], int]: ...

    # semantic recall: message vectors, written behind the step (sql/recall_vectors.py)
    def messages_to_embed(self, agent_id: str, limit: int) -> list[Message]: ...
    def unembedded_counts(self) -> dict[str, int]: ...
    def add_message_vectors(
        self, agent_id: str, vectors: list[tuple[str, np.ndarray]], through_seq: int
    ) -> None: ...
    def index_message_vectors(self, agent_id: str) -> None: ...
    def search_recall(
        self, agent_id: str, query: str, embedding: np.ndarray | None, limit: int, offset: int = 0
    ) -> tuple[list[Message], int]:
        """A page of `search_messages`' ranking fused with the messages' similarity to
        `embedding`, and how many fused results there are (the same for every page)."""
        ...

    def recall_vector_ranking(
        self, agent_id: str, embedding: np.ndarray, depth: int = 100
    ) -> list[tuple[str, float]]: ...

    # archival storage: an agent searches its own passages and its attached sources'
    def insert_passages(self, agent_id: str, passages: list[Passage]) -> None: ...
    def search_archival(
        self,
        agent_id: str,
        query: str,
        embedding: np.ndarray | None,
        limit: int,
        offset: int = 0,
        filters: ArchivalFilter | None = None,
    ) -> tuple[list[ArchivalHit], int]: ...
    def search_passages(
        self, agent_id: str, embedding: np.ndarray, limit: int, offset: int = 0
    ) -> list[tuple[Passage, float]]: ...
    def list_passages(self, agent_id: str, limit: int = 100, offset: int = 0) -> list[Passage]: ...
    def passages_page(
        self,
        agent_id: str,
        *,
        after_id: str | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[Passage]:
        """Keyed paging over the agent's own passages in insertion order (or newest first):
        at most `limit` after the passage `after_id` in that order, none if it is not one
        of the agent's."""
        ...

    def delete_passage(self, agent_id: str, passage_id: str) -> bool: ...
    def count_passages(self, agent_id: str) -> int: ...
    def flush_index(self) -> None: ...

    # document sources
    def create_source(self, source: Source) -> None: ...
    def get_source(self, id_or_name: str) -> Source | None: ...
    def list_sources(self) -> list[Source]: ...
    def delete_source(self, source_id: str) -> None: ...
    def done_hashes(self, source_id: str) -> set[str]: ...
    def existing_chunks(self, source_id: str, hashes: list[str]) -> set[str]: ...
    def add_file(self, file: SourceFile, passages: list[Passage]) -> int: ...
    def list_files(self, source_id: str) -> list[SourceFile]: ...
    def attach_source(self, agent_id: str, source_id: str) -> None: ...
    def detach_source(self, agent_id: str, source_id: str) -> bool: ...
    def attached_sources(self, agent_id: str) -> list[Source]: ...

    # runs and their steps (see sql/runs.py)
    def create_run(self, run: Run) -> None: ...
    def get_run(self, run_id: str) -> Run | None: ...
    def list_runs(
        self,
        agent_ids: list[str],
        statuses: list[str] | None,
        limit: int,
        newest_first: bool,
        after: str | None = None,
        *,
        background: bool | None = None,
        stop_reason: str | None = None,
    ) -> list[Run]: ...
    def set_run_status(
        self, run_id: str, status: RunStatus, stop_reason: str | None = None
    ) -> bool:
        """Move a run that has not ended to `status`; False when it had already ended (or
        had that status: a run started in its turn begins running, and is not written
        again)."""
        ...

    def run_cancelled(self, run_id: str) -> bool: ...
    def runs_owner(self) -> str:
        """This store's owner id for the runs it starts, alive while the store is open."""
        ...

    def end_runs_lease(self) -> None: ...
    def fail_orphaned_runs(self) -> int:
        """Fail unfinished runs whose owner is gone; return how many."""
        ...

    def delete_run(self, run_id: str) -> bool: ...
    def record_step(self, step: RunStep) -> None: ...
    def get_step(self, step_id: str) -> RunStep | None: ...
    def list_steps(
        self,
        agent_ids: list[str],
        run_id: str | None,
        limit: int,
        newest_first: bool,
        after: str | None = None,
    ) -> list[RunStep]: ...

    def agent_files(self, agent_id: str, name: str | None = None) -> list[FileText]:
        """The texts of the files in the agent's attached sources (only those called `name`
        when given), by source attached and name; a name loaded again is its newest text."""
        ...
