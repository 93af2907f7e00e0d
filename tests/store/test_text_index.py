"""The archival full-text index (tantivy): SQLite is the truth; the index catches up with
rows it lacks, is rebuilt when unreadable or ahead of the database, and a deleted
passage's pk is never given to another passage."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from memgpt.schemas import AgentState, Block, Passage
from memgpt.store.dialects.sqlite import SQLiteStore
from memgpt.store.indexes import text


@pytest.fixture
def store(tmp_path):
    store = SQLiteStore(tmp_path / "m.db")
    yield store
    store.close()


def agent(store: SQLiteStore, name: str = "a") -> str:
    state = AgentState(name=name, system="s", blocks=[Block(label="h")])
    store.create_agent(state)
    return state.id


def text_hits(store: SQLiteStore, agent_id: str, query: str) -> list[str]:
    hits, _ = store.search_archival(agent_id, query, None, 10)
    return [h.passage.text for h in hits]


def test_bm25_ranks_rarer_and_repeated_words_first(store):
    a = agent(store)
    texts = [
        "the walrus sleeps on the ice",
        "a walrus and a walrus and another walrus",
        "penguins sleep on the ice",
        "nothing about either animal",
    ]
    store.insert_passages(a, [Passage(text=t) for t in texts])
    assert text_hits(store, a, "walrus") == [texts[1], texts[0]]
    # Stems and case: "Sleeping" finds "sleeps" and "sleep".
    assert set(text_hits(store, a, "Sleeping")) == {texts[0], texts[2]}
    assert text_hits(store, a, "the and a") == []  # stopwords alone carry no signal


def test_query_syntax_is_text(store):
    a = agent(store)
    store.insert_passages(a, [Passage(text="owner: text AND pk OR NOT walrus")])
    for query in ['owner:"x"', "pk:1", "text:walrus", "NOT walrus", "(walrus", 'AND "', "*"]:
        found = text_hits(store, a, query)
        assert found in ([], ["owner: text AND pk OR NOT walrus"]), query


def test_a_search_sees_passages_inserted_since_the_last_one(store):
    a = agent(store)
    store.insert_passages(a, [Passage(text="first note about walruses")])
    assert len(text_hits(store, a, "walrus")) == 1
    store.insert_passages(a, [Passage(text="second note about walruses")])
    assert len(text_hits(store, a, "walrus")) == 2


def test_another_process_inserts_are_found(tmp_path):
    first, second = SQLiteStore(tmp_path / "m.db"), SQLiteStore(tmp_path / "m.db")
    a = agent(first)
    first.insert_passages(a, [Passage(text="walrus one")])
    assert len(text_hits(first, a, "walrus")) == 1
    second.insert_passages(a, [Passage(text="walrus two")])
    assert len(text_hits(second, a, "walrus")) == 2
    assert len(text_hits(first, a, "walrus")) == 2  # the first catches up from SQLite
    first.close()
    second.close()


def test_a_lost_or_corrupt_index_is_rebuilt_from_sqlite(tmp_path):
    path = tmp_path / "m.db"
    store = SQLiteStore(path)
    a = agent(store)
    store.insert_passages(a, [Passage(text=f"walrus number {i}") for i in range(20)])
    store.flush_index()
    store.close()
    meta = path.with_name(path.name + ".text") / a / "meta.json"
    meta.write_text("{ not json")
    reopened = SQLiteStore(path)
    assert len(text_hits(reopened, a, "walrus")) == 10
    assert reopened.text_index.owner(("agent_id", a)).rebuilt
    reopened.close()


def test_the_single_index_of_older_versions_is_replaced_by_one_per_owner(
    tmp_path, monkeypatch, caplog
):
    path = tmp_path / "m.db"
    store = SQLiteStore(path)
    a = agent(store)
    store.insert_passages(a, [Passage(text=f"walrus number {i}") for i in range(20)])
    store.close()
    old = path.with_name(path.name + ".text")
    old.mkdir(exist_ok=True)
    for name in ("meta.json", "0123.idx", ".managed.json"):
        (old / name).write_text("{}")
    store = SQLiteStore(path)
    assert not any(f.is_file() for f in old.iterdir())
    monkeypatch.setattr(text, "_BATCH", 8)
    with caplog.at_level(logging.INFO, logger=text.__name__):
        assert len(text_hits(store, a, "walrus")) == 10
    assert [r.getMessage() for r in caplog.records] == [
        f"Full-text index of {a}: {done} of 20 passages" for done in (8, 16, 20)
    ]
    store.close()


def test_an_index_ahead_of_the_database_is_rebuilt(tmp_path):
    """A database restored from an older backup: the index holds pks it lacks."""
    path = tmp_path / "m.db"
    store = SQLiteStore(path)
    a = agent(store)
    store.insert_passages(a, [Passage(text="walrus kept")])
    store.flush_index()
    store.close()
    backup = path.read_bytes()
    store = SQLiteStore(path)
    store.insert_passages(a, [Passage(text=f"walrus later {i}") for i in range(5)])
    store.flush_index()
    store.close()
    path.write_bytes(backup)
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    restored = SQLiteStore(path)
    restored.insert_passages(a, [Passage(text="walrus new")])  # takes a pk the index has
    assert sorted(text_hits(restored, a, "walrus")) == ["walrus kept", "walrus new"]
    restored.close()


def test_deleted_passages_leave_and_their_pks_are_never_reused(store):
    a = agent(store)
    store.insert_passages(
        a, [Passage(text="walrus old", embedding=[1.0, 0.0]), Passage(text="walrus newest")]
    )
    store.flush_index()
    newest = [p for p in store.list_passages(a) if p.text == "walrus newest"][0]
    store.delete_passage(a, newest.id)
    assert text_hits(store, a, "walrus") == ["walrus old"]
    store.insert_passages(a, [Passage(text="walrus replacement", embedding=[0.0, 1.0])])
    assert sorted(text_hits(store, a, "walrus")) == ["walrus old", "walrus replacement"]
    # The vector side as well: a reused pk would hide behind the deleted one's tombstone.
    found = store.search_passages(a, np.array([0.0, 1.0], np.float32), 1)
    assert [p.text for p, _ in found] == ["walrus replacement"]


def test_deleting_an_agent_or_source_empties_its_part_of_the_index(store):
    a, b = agent(store, "a"), agent(store, "b")
    store.insert_passages(a, [Passage(text="walrus of a")])
    store.insert_passages(b, [Passage(text="walrus of b")])
    assert text_hits(store, b, "walrus") == ["walrus of b"]  # scoped to the owner
    store.delete_agent(a)
    assert store.text_index.search("walrus", 10, [("agent_id", a)]) == []
    assert text_hits(store, b, "walrus") == ["walrus of b"]
