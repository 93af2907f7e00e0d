"""Agent imports in progress: hidden until finished, dropped whole when a crash cut them
short, and never dropped while the process writing them still holds them; the unsynced
transactions their batches use; and SQLite writers of one process taking turns."""

from __future__ import annotations

import threading
import time

import pytest

from memgpt.schemas import AgentState, Message
from memgpt.store.base import StoreError
from memgpt.store.dialects import sqlite
from memgpt.store.dialects.sqlite import SQLiteStore


def _agent(name: str) -> AgentState:
    return AgentState(name=name, system="s", blocks=[])


def _history(n: int) -> list[Message]:
    return [Message(role="user", event="user_message", text=f"message {i}") for i in range(n)]


def _begin(store, name: str) -> AgentState:
    """An import as a crash leaves it: marked, with part of its history written."""
    state = _agent(name)
    with store.transaction():
        store.create_agent(state)
        store.begin_import(state.id)
    for _ in range(3):
        with store.unsynced_transaction():
            store.append_messages(state.id, _history(40))
    return state


def _rows(store, agent_id: str) -> dict[str, int]:
    tables = ("agents", "messages", "agent_blocks", "agent_imports")
    return {
        t: store._one(
            f"SELECT COUNT(*) AS n FROM {t} WHERE {'id' if t == 'agents' else 'agent_id'} = ?",
            (agent_id,),
        )["n"]
        for t in tables
    }


def test_an_import_a_crash_cut_short_is_hidden_then_dropped_whole(open_store):
    store = open_store()
    kept = _agent("kept")
    store.create_agent(kept)
    store.append_messages(kept.id, _history(5))
    cut = _begin(store, "cut")
    assert [a.id for a in store.list_agents()] == [kept.id]
    store.close()

    reopened = open_store()  # the next start
    assert reopened.unfinished_imports() == [cut.id]
    assert reopened.drop_unfinished_imports() == 1
    assert _rows(reopened, cut.id) == {
        "agents": 0,
        "messages": 0,
        "agent_blocks": 0,
        "agent_imports": 0,
    }
    assert reopened.get_agent(cut.id) is None
    assert reopened.count_messages(kept.id) == 5
    assert [a.id for a in reopened.list_agents()] == [kept.id]


def test_a_finished_import_is_listed_and_kept(store):
    state = _begin(store, "whole")
    with store.transaction():
        store.finish_import(state.id)
    assert [a.id for a in store.list_agents()] == [state.id]
    assert store.drop_unfinished_imports() == 0
    assert store.count_messages(state.id) == 120


def test_a_start_waits_for_an_import_another_process_is_writing(open_store):
    importer, starting = open_store(), open_store()  # two processes' stores on one database
    state = _begin(importer, "live")
    dropped: list[int] = []
    with importer.agent_lock(state.id):  # as the import holds it until it ends
        cleanup = threading.Thread(
            target=lambda: dropped.append(starting.drop_unfinished_imports())
        )
        cleanup.start()
        time.sleep(0.5)
        assert cleanup.is_alive() and not dropped  # waiting for the lock, not dropping
        with importer.transaction():
            importer.finish_import(state.id)
    cleanup.join(10)
    assert dropped == [0]
    assert starting.count_messages(state.id) == 120


def test_an_unsynced_transaction_commits_or_rolls_back_whole(store):
    state = _agent("unsynced")
    store.create_agent(state)
    with pytest.raises(RuntimeError), store.unsynced_transaction():
        store.append_messages(state.id, _history(3))
        raise RuntimeError("stopped halfway")
    assert store.count_messages(state.id) == 0
    with store.unsynced_transaction():
        store.append_messages(state.id, _history(3))
    assert store.count_messages(state.id) == 3


def test_sqlite_commits_flush_again_after_an_unsynced_transaction(tmp_path):
    store = SQLiteStore(tmp_path / "m.db")
    with store.unsynced_transaction():
        assert store._one("PRAGMA synchronous")[0] == 1  # NORMAL: no flush at commit
    assert store._one("PRAGMA synchronous")[0] == 2  # FULL, as every other commit
    store.close()


def test_a_writer_of_this_process_waits_its_turn_then_gives_up_in_one_sentence(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(sqlite, "BUSY_TIMEOUT_S", 0.2)
    store = SQLiteStore(tmp_path / "m.db")
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.transaction():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(10)
    with pytest.raises(StoreError, match="The database stayed busy for 0.2 s; try again"):
        store.create_agent(_agent("late"))
    release.set()
    holder.join(10)
    store.create_agent(_agent("in time"))
    assert [a.name for a in store.list_agents()] == ["in time"]
    store.close()
