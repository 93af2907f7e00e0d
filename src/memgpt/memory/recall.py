"""Recall storage as the agent sees it: every message ever, searched by words and meaning
or by date, a page at a time."""

from __future__ import annotations

import json
from collections import OrderedDict
from datetime import UTC, datetime, time, timedelta
from threading import Lock
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from memgpt.embeddings.base import Embedder
from memgpt.memory import relevance
from memgpt.schemas import Message, inner_thoughts, sent_texts
from memgpt.store import Store

if TYPE_CHECKING:
    import numpy as np

PAGE_SIZE = 5


class SearchError(Exception):
    """A search the agent asked for is malformed; the text says how to fix it."""


def check_search(query: str, page: int) -> None:
    """The same rules for a recall and an archival search."""
    if page < 0:
        raise SearchError("page must be 0 or more.")
    if not query.strip():
        raise SearchError("query is empty; say what to look for.")


def page_header(
    total: int, page: int, shown: int, page_size: int = PAGE_SIZE, counted_to: int | None = None
) -> str:
    """`counted_to`: where the search stopped counting; a total above it means "more than"."""
    if total == 0:
        return "No results found."
    pages = (total + page_size - 1) // page_size
    first = page * page_size + 1
    if counted_to is not None and total > counted_to:
        if shown == 0:
            return f"Page {page} is past the end: there are more than {counted_to} results."
        return (
            f"Showing results {first}-{first + shown - 1} of more than {counted_to} (page {page}):"
        )
    if shown == 0:
        return f"Page {page} is past the end: there are {total} results on {pages} page(s)."
    return f"Showing results {first}-{first + shown - 1} of {total} (page {page} of pages 0-{pages - 1}):"


def describe(message: Message) -> dict[str, str]:
    """A message as a search hit: when, who, and what was said (the sent text for the agent)."""
    sent = sent_texts(message)
    text = sent[0] if sent else message.text or inner_thoughts(message)
    who = "user" if message.role == "user" else "you"
    return {"time": message.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"), "from": who, "text": text}


def _format(messages: list[Message], total: int, page: int, counted_to: int | None = None) -> str:
    header = page_header(total, page, len(messages), counted_to=counted_to)
    if not messages:
        return header
    return header + "\n" + json.dumps([describe(m) for m in messages], ensure_ascii=False)


# Per embedder, weakly held: an embedder (a loaded model) must not outlive its agent.
_query_vectors: WeakKeyDictionary[Embedder, OrderedDict[str, np.ndarray]] = WeakKeyDictionary()
_query_vectors_lock = Lock()
QUERY_CACHE_SIZE = 64


def query_vector(embedder: Embedder, query: str) -> np.ndarray:
    """A search query's embedding, computed once: an agent paging through results asks
    with the same query again and again, and embedding it is most of a search's time."""
    with _query_vectors_lock:
        cache = _query_vectors.setdefault(embedder, OrderedDict())
        if query in cache:
            cache.move_to_end(query)
            return cache[query]
    vector = embedder.embed([query])[0]
    vector.setflags(write=False)  # shared by every caller of the cache
    with _query_vectors_lock:
        cache[query] = vector
        if len(cache) > QUERY_CACHE_SIZE:
            cache.popitem(last=False)
    return vector


def search_text(
    store: Store, agent_id: str, query: str, page: int = 0, embedder: Embedder | None = None
) -> str:
    """conversation_search: by words and, given the agent's embedder, by meaning (the two
    rankings fused, `Store.search_recall`); without one, by words alone."""
    check_search(query, page)
    if embedder is None:
        hits, total = store.search_messages(agent_id, query, PAGE_SIZE, page * PAGE_SIZE)
        return _format(hits, total, page, counted_to=store.search_count_limit)
    vector = query_vector(embedder, query)
    least = relevance.floor(store, embedder, agent_id, "recall")
    hits, total = store.search_recall(
        agent_id, query, vector, PAGE_SIZE, page * PAGE_SIZE, floor=least
    )
    return _format(hits, total, page)


def _parse_day(text: str, name: str) -> datetime:
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise SearchError(f"{name} must be a date like 2024-01-31, not {text!r}.") from None
    return datetime.combine(day, time.min, tzinfo=UTC)


def search_date(store: Store, agent_id: str, start_date: str, end_date: str, page: int = 0) -> str:
    if page < 0:
        raise SearchError("page must be 0 or more.")
    start = _parse_day(start_date, "start_date")
    end = _parse_day(end_date, "end_date") + timedelta(days=1) - timedelta(microseconds=1)
    if end < start:
        raise SearchError("end_date is before start_date; swap them.")
    hits, total = store.messages_between(agent_id, start, end, PAGE_SIZE, page * PAGE_SIZE)
    return _format(hits, total, page)
