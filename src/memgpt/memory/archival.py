"""Archival storage as the agent sees it: passages it saves, found again by meaning."""

from __future__ import annotations

import json

from memgpt.embeddings.base import Embedder
from memgpt.memory.recall import PAGE_SIZE, SearchError, page_header
from memgpt.schemas import Passage
from memgpt.store.base import Store


def insert(store: Store, embedder: Embedder, agent_id: str, text: str, source: str | None = None) -> Passage:
    if not text.strip():
        raise SearchError("content is empty; write the text to remember.")
    passage = Passage(text=text, embedding=embedder.embed([text])[0].tolist(), source=source)
    store.insert_passages(agent_id, [passage])
    return passage


def search(store: Store, embedder: Embedder, agent_id: str, query: str, page: int = 0) -> str:
    if page < 0:
        raise SearchError("page must be 0 or more.")
    if not query.strip():
        raise SearchError("query is empty; say what to look for.")
    total = store.count_passages(agent_id)
    hits = store.search_passages(agent_id, embedder.embed([query])[0], PAGE_SIZE, page * PAGE_SIZE)
    header = page_header(total, page, len(hits))
    if not hits:
        return header
    rows = [
        {"time": p.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"), "score": round(s, 3), "text": p.text}
        for p, s in hits
    ]
    return header + "\n" + json.dumps(rows, ensure_ascii=False)
