"""Archival storage as the agent sees it: passages it saved and documents it was given,
found again by meaning and by keyword (hybrid search), a page at a time."""

from __future__ import annotations

import json
from typing import Any

from memgpt.embeddings.base import Embedder
from memgpt.errors import MemGPTError
from memgpt.memory import relevance
from memgpt.memory.recall import PAGE_SIZE, SearchError, check_search, page_header, query_vector
from memgpt.schemas import AgentState, EmbeddingConfig, Passage
from memgpt.store import Store
from memgpt.store.base import ArchivalFilter, ArchivalHit, Source


def make_passage(
    embedder: Embedder, text: str, source: str | None = None, tags: list[str] | None = None
) -> Passage:
    """A passage with its embedding, not yet stored."""
    if not text.strip():
        raise SearchError("content is empty; write the text to remember.")
    return Passage(
        text=text, embedding=embedder.embed([text])[0].tolist(), source=source, tags=tags or []
    )


def insert(
    store: Store,
    embedder: Embedder,
    agent_id: str,
    text: str,
    source: str | None = None,
    tags: list[str] | None = None,
) -> Passage:
    passage = make_passage(embedder, text, source, tags)
    store.insert_passages(agent_id, [passage])
    return passage


def describe(hit: ArchivalHit) -> dict[str, Any]:
    """A hit as the model reads it: where the text came from, how well it matched, the text."""
    p = hit.passage
    row: dict[str, Any] = {"time": p.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")}
    if p.source:
        row["source"] = p.source
    if p.file:
        row["file"] = p.file
    if p.page is not None:
        row["page"] = p.page
    elif p.char_offset is not None:
        row["offset"] = p.char_offset
    if p.tags:
        row["tags"] = p.tags
    row["score"] = round(hit.score, 4)
    row["text"] = p.text
    return row


def search(
    store: Store,
    embedder: Embedder,
    agent_id: str,
    query: str,
    page: int = 0,
    filters: ArchivalFilter | None = None,
) -> str:
    check_search(query, page)
    hits, total = store.search_archival(
        agent_id,
        query,
        query_vector(embedder, query),
        PAGE_SIZE,
        page * PAGE_SIZE,
        filters,
        floor=relevance.floor(store, embedder, agent_id, "archival"),
    )
    header = page_header(total, page, len(hits))
    if not hits:
        return header
    return header + "\n" + json.dumps([describe(h) for h in hits], ensure_ascii=False)


class SourceError(MemGPTError):
    """A source operation the user asked for cannot be done; the text says what to do."""


def find_source(store: Store, name_or_id: str) -> Source:
    source = store.get_source(name_or_id)
    if source is None:
        raise SourceError(
            f"There is no source named {name_or_id!r}; load documents into it with `memgpt load`."
        )
    return source


def same_embedding(a: EmbeddingConfig, b: EmbeddingConfig) -> bool:
    return (a.provider, a.model, a.dim) == (b.provider, b.model, b.dim)


def attach(store: Store, state: AgentState, source_name: str) -> Source:
    """Let the agent search the source's passages; they must be embedded like its queries."""
    source = find_source(store, source_name)
    if not same_embedding(source.embedding, state.embedding):
        raise SourceError(
            f"Source {source.name!r} was embedded with {source.embedding.provider}/"
            f"{source.embedding.model} but agent {state.name!r} uses {state.embedding.provider}/"
            f"{state.embedding.model}; load the documents again into a source made with the "
            "agent's embedding model."
        )
    store.attach_source(state.id, source.id)
    return source


def detach(store: Store, state: AgentState, source_name: str) -> Source:
    source = find_source(store, source_name)
    if not store.detach_source(state.id, source.id):
        raise SourceError(f"Source {source.name!r} is not attached to agent {state.name!r}.")
    return source
