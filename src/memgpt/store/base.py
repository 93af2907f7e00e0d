"""What the store's callers and its implementation share: the records it keeps beside
agents and messages (runs, sources, files), archival search's filters and hits, and
search's word handling. The store itself is `memgpt.store.Store`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from stopwords import get_stopwords

from memgpt.errors import MemGPTError
from memgpt.schemas import EmbeddingConfig, Passage, new_id, utcnow


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
