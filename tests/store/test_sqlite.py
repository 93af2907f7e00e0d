"""The SQLite store: migrations, atomic transactions, reopening, and clear errors.

Tests taking `store` or `open_store` run on every backend (tests/store/conftest.py)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from memgpt.agent import events
from memgpt.schemas import AgentState, Block, Passage
from memgpt.store.base import StoreError
from memgpt.store.dialects.sqlite import SQLiteStore, from_ts, ts
from memgpt.store.migrations import STEPS, scripts
from tests.store.test_migrations import OLD_MESSAGE_COLUMNS


def new_agent(name="a") -> AgentState:
    return AgentState(name=name, system="s", blocks=[Block(label="human", value="v")])


def test_new_database_is_at_the_newest_schema(tmp_path):
    store = SQLiteStore(tmp_path / "m.db")
    version = sqlite3.connect(tmp_path / "m.db").execute("PRAGMA user_version").fetchone()[0]
    assert version == len(scripts("sqlite"))
    assert store.integrity_check() == "ok"


def test_reopening_finds_everything(open_store):
    store = open_store()
    state = new_agent()
    store.create_agent(state)
    store.append_messages(state.id, [events.user_message("hello there")])
    store.insert_passages(state.id, [Passage(text="a fact", embedding=[1.0, 0.0])])
    store.close()

    again = open_store()
    assert again.get_agent("a").id == state.id
    assert [m.text for m in again.context_messages(state.id)] == ["hello there"]
    assert again.search_messages(state.id, "hello", 5)[1] == 1
    assert [p.text for p, _ in again.search_passages(state.id, [1.0, 0.0], 5)] == ["a fact"]


def test_a_failed_transaction_leaves_nothing_behind(store):
    state = new_agent()
    store.create_agent(state)
    with pytest.raises(RuntimeError), store.transaction():
        store.append_messages(state.id, [events.user_message("half a step")])
        state.blocks[0].value = "changed"
        store.save_agent(state)
        raise RuntimeError("crash in the middle of a step")
    assert store.count_messages(state.id) == 0
    assert store.search_messages(state.id, "half", 5) == ([], 0)
    assert store.get_agent(state.id).blocks[0].value == "v"


def test_duplicate_agent_name_is_a_clear_error(store):
    store.create_agent(new_agent("sam"))
    with pytest.raises(StoreError, match="already exists; pick another name"):
        store.create_agent(new_agent("sam"))


def test_deleting_an_agent_removes_its_memory(store, backend):
    state = new_agent()
    store.create_agent(state)
    store.append_messages(state.id, [events.user_message("hello")])
    store.insert_passages(state.id, [Passage(text="a fact", embedding=[1.0, 0.0])])
    store.delete_agent(state.id)
    assert store.get_agent(state.id) is None
    assert store.count_messages(state.id) == 0 == store.count_passages(state.id)
    if backend == "sqlite":
        assert store.integrity_check() == "ok"


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "m.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a memgpt database"):
        SQLiteStore(path)


def test_upgrade_from_an_older_schema_keeps_everything_and_counts_it(tmp_path, monkeypatch):
    from memgpt.store import migrations

    path = tmp_path / "m.db"
    monkeypatch.setattr(migrations, "STEPS", STEPS[:3])
    old = SQLiteStore(path)
    state = new_agent()
    # Written as that schema's code did: today's inserts rely on newer tables.
    old._execute(
        "INSERT INTO agents (id, name, state, created_at) VALUES (?, ?, ?, ?)",
        (state.id, state.name, old._state(state), old._ts(state.created_at)),
    )
    old._execute(
        "INSERT INTO blocks (agent_id, label, value, char_limit, description, position)"
        " VALUES (?, 'human', 'v', 5000, '', 0)",
        (state.id,),
    )
    for seq in range(1, 6):  # the full-text index's rowid was the message's pk
        pk = old._execute(
            f"INSERT INTO messages ({OLD_MESSAGE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (f"m{seq}", state.id, seq, "user", None, f"m{seq} said", "[]", None, None,
             "2024-01-01T00:00:00.000000Z", 1),
        ).lastrowid  # fmt: skip
        old._execute("INSERT INTO messages_fts (rowid, body) VALUES (?, ?)", (pk, f"m{seq} said"))
    old._execute(
        "INSERT INTO passages (id, agent_id, text, metadata, created_at)"
        " VALUES ('p1', ?, 'a fact', '{}', '2024-01-01T00:00:00.000000Z')",
        (state.id,),
    )
    old._execute("INSERT INTO passages_fts (rowid, text) VALUES (last_insert_rowid(), 'a fact')")
    old.close()
    monkeypatch.undo()

    new = SQLiteStore(path)
    assert [(b.label, b.value) for b in new.get_agent(state.id).blocks] == [("human", "v")]
    assert new.count_messages(state.id) == 5
    assert new.count_passages(state.id) == 1
    # the full-text index is rekeyed by agent and counted, so recall ranks as before
    assert tuple(new._recall_agent(state.id))[1:] == (5, 10)
    assert [m.text for m in new.search_messages(state.id, "m3", 5)[0]] == ["m3 said"]
    assert [h.passage.text for h in new.search_archival(state.id, "fact", None, 5)[0]] == ["a fact"]
    new.insert_passages(state.id, [Passage(text="another fact")])
    assert new.count_passages(state.id) == 2
    new.append_messages(state.id, [events.user_message("m5")])
    new.delete_messages(state.id, [new.list_messages(state.id, limit=1)[0].id])
    assert new.count_messages(state.id) == 5 == len(new.list_messages(state.id, limit=100))
    assert new.integrity_check() == "ok"


def test_a_page_far_past_the_end_is_empty_not_a_huge_allocation(store):
    """The page number sizes each ranking's candidate list; it is capped by the passages."""
    state = new_agent()
    store.create_agent(state)
    query = np.array([1.0, 0.0], np.float32)
    assert store.search_archival(state.id, "fact", query, 20, 2_000_000_000) == ([], 0)
    store.insert_passages(state.id, [Passage(text="a fact", embedding=[1.0, 0.0])])
    hits, total = store.search_archival(state.id, "fact", query, 20, 2_000_000_000)
    assert hits == [] and total == 1
    assert store.search_passages(state.id, query, 20, 2_000_000_000) == []
    assert [h.passage.text for h in store.search_archival(state.id, "fact", query, 5)[0]] == [
        "a fact"
    ]


def test_stored_times_read_back_as_the_same_instant_in_utc():
    for when in (
        datetime(2023, 1, 1, tzinfo=UTC),
        datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2024, 6, 1, 12, 30, 5, 42, tzinfo=timezone(timedelta(hours=-7))),
    ):
        back = from_ts(ts(when))
        assert back == when and back.utcoffset() == timedelta(0)
