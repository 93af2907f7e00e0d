"""A vector search asked for k results gets k wherever k exist: rows deleted since the
index was built (tombstones in usearch, dead tuples in pgvector's HNSW) take candidate
places, so the search asks the index deeper instead of stopping short."""

from __future__ import annotations

import numpy as np

from memgpt.agent import events
from memgpt.schemas import AgentState, Block, Passage
from memgpt.store.indexes import owners
from memgpt.store.sql import archival

DIM = 16


def unit(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_archival_search_gets_k_after_most_passages_are_deleted(store, monkeypatch):
    monkeypatch.setattr(archival, "EXACT_LIMIT", 0)  # every scope searched through the index
    state = AgentState(name="a", system="s", blocks=[Block(label="h")])
    store.create_agent(state)
    data = unit(300, 0)
    store.insert_passages(
        state.id, [Passage(text=f"p{i}", embedding=v.tolist()) for i, v in enumerate(data)]
    )
    store.flush_index()
    for passage in store.list_passages(state.id, limit=180):
        assert store.delete_passage(state.id, passage.id)
    assert store.count_passages(state.id) == 120
    for query in data[:5]:
        assert len(store.search_passages(state.id, query, 100)) == 100


def test_recall_vector_search_gets_k_after_most_messages_are_deleted(store, monkeypatch):
    monkeypatch.setattr(archival, "EXACT_LIMIT", 0)
    monkeypatch.setattr(owners, "TAIL_MAX", 0)  # every vector in the graph, none scanned
    state = AgentState(name="a", system="s", blocks=[Block(label="h")])
    store.create_agent(state)
    messages = [events.user_message(f"m{i}") for i in range(300)]
    store.append_messages(state.id, messages)
    data = unit(300, 1)
    store.add_message_vectors(
        state.id, [(m.id, v) for m, v in zip(messages, data, strict=True)], messages[-1].seq
    )
    store.index_message_vectors(state.id)
    store.delete_messages(state.id, [m.id for m in messages[:180]])
    for query in data[180:185]:
        assert len(store.recall_vector_ranking(state.id, query, 100)) == 100
