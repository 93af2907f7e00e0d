"""The per-owner vector indexes: SQLite is the truth; a missing or stale index is rebuilt,
a tail of new rows is searched exactly, and a crash loses nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from memgpt.schemas import AgentState, Block, Passage
from memgpt.store.dialects.sqlite import SQLiteStore
from memgpt.store.indexes import hnsw
from memgpt.store.indexes import owners as indexes

DIM = 16


@pytest.fixture(autouse=True)
def same_graph_every_run(monkeypatch):
    """These tests compare the graph's answers with exact search: one thread builds the
    graph, so they do not depend on thread timing."""
    monkeypatch.setattr(hnsw, "ADD_THREADS", 1)


def vectors(n: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture
def filled(tmp_path):
    store = SQLiteStore(tmp_path / "m.db")
    state = AgentState(name="a", system="s", blocks=[Block(label="h")])
    store.create_agent(state)
    data = vectors(300)
    store.insert_passages(
        state.id, [Passage(text=f"p{i}", embedding=v.tolist()) for i, v in enumerate(data)]
    )
    store.flush_index()
    return store, state, data


def top_texts(store, agent_id, query, k=5):
    return [p.text for p, _ in store.search_passages(agent_id, query, k)]


def exact(data, query, k=5):
    return [f"p{i}" for i in np.argsort(-(data @ query))[:k]]


def index_of(store, agent_id):
    return store.indexes.owner_index(("agent_id", agent_id))


def test_index_files_sit_next_to_the_database(filled, tmp_path):
    store, state, _ = filled
    folder = tmp_path / "m.db.vectors"
    assert (folder / f"{state.id}.usearch").exists()
    meta = json.loads((folder / f"{state.id}.json").read_text())
    assert meta["count"] == 300 and meta["max_pk"] > 0 and meta["dim"] == DIM


def test_a_deleted_index_file_is_rebuilt(filled, tmp_path):
    store, state, data = filled
    store.close()
    (tmp_path / "m.db.vectors" / f"{state.id}.usearch").unlink()
    again = SQLiteStore(tmp_path / "m.db")
    assert top_texts(again, state.id, data[7]) == exact(data, data[7])
    assert index_of(again, state.id).rebuilt


def test_a_stale_index_is_rebuilt(filled, tmp_path):
    store, state, data = filled
    store.close()
    meta_path = tmp_path / "m.db.vectors" / f"{state.id}.json"
    meta = json.loads(meta_path.read_text())
    meta["count"] += 5  # the watermark no longer matches the file
    meta_path.write_text(json.dumps(meta))
    again = SQLiteStore(tmp_path / "m.db")
    assert top_texts(again, state.id, data[9]) == exact(data, data[9])
    assert index_of(again, state.id).rebuilt


def test_rows_deleted_behind_the_index_s_back_trigger_a_rebuild(filled, tmp_path):
    store, state, data = filled
    store._execute("DELETE FROM passages WHERE pk % 2 = 0")
    store.close()
    again = SQLiteStore(tmp_path / "m.db")
    assert index_of(again, state.id).rebuilt
    assert len(index_of(again, state.id).index) == 150


def test_rows_added_by_another_process_are_found_without_a_rebuild(filled, tmp_path):
    store, state, data = filled
    store.close()
    mine = SQLiteStore(tmp_path / "m.db")
    assert top_texts(mine, state.id, data[2], 1) == ["p2"]
    other = SQLiteStore(tmp_path / "m.db")
    extra = vectors(3, seed=5)
    other.insert_passages(
        state.id, [Passage(text=f"new{i}", embedding=v.tolist()) for i, v in enumerate(extra)]
    )
    assert top_texts(mine, state.id, extra[1], 1) == ["new1"]
    assert not index_of(mine, state.id).rebuilt


def test_a_big_tail_moves_into_the_graph(filled, monkeypatch):
    store, state, data = filled
    monkeypatch.setattr(indexes, "TAIL_MAX", 10)
    more = vectors(50, seed=3)
    store.insert_passages(
        state.id, [Passage(text=f"m{i}", embedding=v.tolist()) for i, v in enumerate(more)]
    )
    index = index_of(store, state.id)
    assert index.tail_size() == 50
    assert top_texts(store, state.id, more[4], 1) == ["m4"]
    assert index.tail_size() == 0 and len(index.index) == 350


def test_a_search_reads_only_the_tail_rows_added_since_the_last(filled, monkeypatch):
    store, state, _ = filled
    index = index_of(store, state.id)
    rows = index._rows
    read: list[int] = []

    def counting(*args):
        for batch in rows(*args):
            read.append(len(batch[1]))
            yield batch

    monkeypatch.setattr(index, "_rows", counting)
    more = vectors(50, seed=3)
    store.insert_passages(
        state.id, [Passage(text=f"m{i}", embedding=v.tolist()) for i, v in enumerate(more)]
    )
    assert top_texts(store, state.id, more[4], 1) == ["m4"]
    assert sum(read) == 50
    assert top_texts(store, state.id, more[7], 1) == ["m7"]
    assert sum(read) == 50  # the tail is in memory
    store.insert_passages(state.id, [Passage(text="late", embedding=more[9].tolist())])
    (m9,) = [p for p in store.list_passages(state.id, limit=400) if p.text == "m9"]
    store.delete_passage(state.id, m9.id)
    found = top_texts(store, state.id, more[9], 2)
    assert found[0] == "late" and "m9" not in found  # the new row read, the deleted one gone
    assert sum(read) == 51


def test_deleted_passages_leave_the_graph_at_the_next_save(filled, tmp_path):
    store, state, data = filled
    victims = store.list_passages(state.id, limit=10)
    for p in victims:
        store.delete_passage(state.id, p.id)
    assert "p0" not in top_texts(store, state.id, data[0], 10)
    store.flush_index()
    assert len(index_of(store, state.id).index) == 290
    store.close()
    again = SQLiteStore(tmp_path / "m.db")
    assert "p0" not in top_texts(again, state.id, data[0], 10)
    assert not index_of(again, state.id).rebuilt


def test_deleting_the_agent_removes_its_index(filled, tmp_path):
    store, state, _ = filled
    store.delete_agent(state.id)
    assert not (tmp_path / "m.db.vectors" / f"{state.id}.usearch").exists()
