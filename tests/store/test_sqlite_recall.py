"""Recall ranking on SQLite: BM25 as FTS5 computes it, over one agent's messages alone."""

from __future__ import annotations

import sqlite3

import pytest

from memgpt.agent import events
from memgpt.schemas import AgentState, Block
from memgpt.store.base import search_words
from memgpt.store.dialects import sqlite_recall
from memgpt.store.dialects.sqlite import SQLiteStore

TEXTS = [
    "apple apple banana",
    "banana cherry",
    "apple cherry cherry in a rather long sentence about the orchard and its trees",
    "cherry",
    "banana banana bananas",
    "an apple",
    "the orchard_gate by the apple tree",
    "Apples, cherries and more apples",
]
QUERIES = ["apple banana cherry", "apple", "banana orchard", "cherries apple", "orchard_gate"]


@pytest.fixture
def store(tmp_path):
    store = SQLiteStore(tmp_path / "m.db")
    yield store
    store.close()


def add_agent(store, name, texts):
    state = AgentState(name=name, system="s", blocks=[Block(label="human", value="v")])
    store.create_agent(state)
    store.append_messages(state.id, [events.user_message(t) for t in texts])
    return state.id


def alone(query):
    """FTS5's own bm25() order over a table holding only TEXTS."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE f USING fts5(body, tokenize = 'porter unicode61')")
    conn.executemany("INSERT INTO f (rowid, body) VALUES (?, ?)", enumerate(TEXTS))
    words = " OR ".join(f'"{w}"' for w in search_words(query))
    rows = conn.execute("SELECT body FROM f WHERE f MATCH ? ORDER BY bm25(f), rowid", (words,))
    return [r[0] for r in rows]


def ranking(store, agent_id, query):
    return [m.text for m in store.search_messages(agent_id, query, 100)[0]]


def test_the_order_is_fts5s_own_over_the_agents_messages_alone(store):
    add_agent(store, "busy", ["apple pie"] * 30 + ["a very long message " * 20 + "cherry"] * 10)
    mine = add_agent(store, "mine", TEXTS)
    for query in QUERIES:
        assert ranking(store, mine, query) == alone(query), query


def test_a_word_listed_too_often_elsewhere_is_counted_in_the_text_instead(store, monkeypatch):
    # Reading every agent's occurrences of a common word would cost what the other agents
    # hold: past its bound, frequencies come from the agent's matches' text.
    add_agent(store, "busy", ["apple pie"] * 30)
    mine = add_agent(store, "mine", TEXTS)
    listed = {q: ranking(store, mine, q) for q in QUERIES}
    monkeypatch.setattr(sqlite_recall, "LIST_PER_MATCH", 0)
    assert {q: ranking(store, mine, q) for q in QUERIES} == listed


def test_deleting_messages_takes_them_out_of_the_agents_statistics(store):
    mine = add_agent(store, "mine", TEXTS)
    before = store._recall_agent(mine)
    store.append_messages(mine, [events.user_message("pear pear plum")])
    store.delete_messages(mine, [store.list_messages(mine, limit=1)[0].id])
    assert tuple(store._recall_agent(mine)) == tuple(before)
    assert ranking(store, mine, "pear") == []
    other = add_agent(store, "other", ["apple"])
    store.delete_agent(mine)
    assert ranking(store, other, "apple") == ["apple"]
    assert store.integrity_check() == "ok"
