"""What only the PostgreSQL store has: its migrations, the HNSW index path, many threads on
one pool, and being chosen by MEMGPT_PG_URI. (Everything else runs on both backends.)"""

from __future__ import annotations

import threading

import numpy as np
import psycopg
import pytest

from memgpt.agent import events
from memgpt.schemas import AgentState, Block, Passage
from memgpt.store.base import ArchivalFilter, StoreError
from memgpt.store.dialects.postgres import PostgresStore
from memgpt.store.migrations import STEPS, scripts
from memgpt.store.sql import archival
from tests.store.backends import fresh_uri
from tests.store.test_migrations import OLD_MESSAGE_COLUMNS

pytestmark = pytest.mark.postgres
DIM = 16


@pytest.fixture
def uri():
    return fresh_uri()


@pytest.fixture
def pg(uri):
    store = PostgresStore(uri)
    yield store
    store.close()


def new_agent(store, name="a") -> AgentState:
    state = AgentState(name=name, system="s", blocks=[Block(label="human", value="v")])
    store.create_agent(state)
    return state


def schema_version(uri) -> int:
    with psycopg.connect(uri) as conn:
        return conn.execute("SELECT version FROM schema_version").fetchone()[0]


def test_processes_opening_a_new_database_at_once_migrate_it_once(uri):
    stores, errors = [], []

    def open_store():
        try:
            stores.append(PostgresStore(uri))
        except Exception as exc:  # collected, so the assertion shows it
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(stores) == 4
    assert schema_version(uri) == len(scripts("postgres"))
    for s in stores:
        s.close()


def test_upgrade_from_an_older_schema_keeps_everything(uri, monkeypatch):
    from memgpt.store import migrations

    monkeypatch.setattr(migrations, "STEPS", STEPS[:1])
    old = PostgresStore(uri)
    state = AgentState(name="a", system="s", blocks=[Block(label="human", value="v")])
    # Written as that schema's code did: today's inserts rely on newer tables.
    with old.transaction():
        old._run(
            "INSERT INTO agents (id, name, state, created_at) VALUES (?, ?, ?, ?)",
            (state.id, state.name, old._state(state), old._ts(state.created_at)),
        )
        old._run(
            "INSERT INTO blocks (agent_id, label, value, char_limit, description, position)"
            " VALUES (?, 'human', 'v', 5000, '', 0)",
            (state.id,),
        )
    for seq in range(1, 6):
        m = events.user_message(f"m{seq - 1}")
        old._run(
            f"INSERT INTO messages ({OLD_MESSAGE_COLUMNS}, body)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?, to_tsvector('memgpt', ?))",
            (m.id, state.id, seq, m.role, m.event, m.text, old._json([]), None, None,
             old._ts(m.created_at), True, m.text),
        )  # fmt: skip
    old.close()
    assert schema_version(uri) == 1
    monkeypatch.undo()

    new = PostgresStore(uri)
    assert schema_version(uri) == len(scripts("postgres"))
    assert [(b.label, b.value) for b in new.get_agent(state.id).blocks] == [("human", "v")]
    assert new.count_messages(state.id) == 5
    assert new.search_messages(state.id, "m3", 5)[1] == 1
    new.close()


def test_a_bad_uri_is_a_clear_error():
    with pytest.raises(StoreError, match="Cannot connect to PostgreSQL"):
        PostgresStore("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_many_threads_append_to_one_agent_without_losing_a_sequence_number(pg):
    state = new_agent(pg)

    def append(n: int) -> None:
        for i in range(10):
            with pg.transaction():
                pg.append_messages(state.id, [events.user_message(f"t{n} m{i}")])

    threads = [threading.Thread(target=append, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = [m.seq for m in pg.list_messages(state.id, limit=1000)]
    assert seqs == list(range(1, 81))
    assert pg.count_messages(state.id) == 80 == pg.last_seq(state.id)


def test_nested_transactions_commit_once_at_the_outermost(pg):
    state = new_agent(pg)
    with pg.transaction():
        pg.append_messages(state.id, [events.user_message("one")])
        with pg.transaction():
            pg.append_messages(state.id, [events.user_message("two")])
        # another connection does not see the outer transaction's writes yet
        with psycopg.connect(pg.uri) as other:
            count = "SELECT COUNT(*) FROM messages"
            assert other.execute(count).fetchone()[0] == 0
    assert pg.count_messages(state.id) == 2


def unit(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_large_scopes_search_through_the_hnsw_index(pg, monkeypatch):
    state, other = new_agent(pg), new_agent(pg, "b")
    data = unit(400, 0)
    mine = [
        Passage(text=f"p{i}", embedding=v.tolist(), tags=["even"] if i % 2 == 0 else [])
        for i, v in enumerate(data)
    ]
    pg.insert_passages(state.id, mine)
    pg.insert_passages(other.id, [Passage(text="x", embedding=v.tolist()) for v in unit(400, 1)])
    query = data[7]
    exact = [p.text for p, _ in pg.search_passages(state.id, query, 10)]
    assert exact == [f"p{i}" for i in np.argsort(-(data @ query))[:10]]

    monkeypatch.setattr(archival, "EXACT_LIMIT", 0)  # any scope counts as large
    with psycopg.connect(pg.uri) as conn:
        plan = conn.execute(
            "EXPLAIN SELECT pk FROM passages WHERE vector_dims(embedding) = 16"
            f" ORDER BY embedding::vector(16) <=> '{query.tolist()}' LIMIT 10"
        ).fetchall()
    assert any("passages_hnsw_16" in line[0] for line in plan)
    approx = [p.text for p, _ in pg.search_passages(state.id, query, 10)]
    assert len(set(approx) & set(exact)) >= 9 and approx[0] == "p7"
    # filters and deletes apply to index candidates: over-fetching still finds 10 tagged ones
    hits, _ = pg.search_archival(state.id, "", query, 10, filters=ArchivalFilter(tags=["even"]))
    assert len(hits) == 10 and all(h.passage.tags == ["even"] for h in hits)
    assert pg.delete_passage(state.id, pg.list_passages(state.id, limit=10, offset=7)[0].id)
    assert "p7" not in [p.text for p, _ in pg.search_passages(state.id, query, 10)]


def test_passage_vectors_are_stored_in_the_row(pg):
    """Out-of-line (TOASTed) vectors made an exact scan read several pages per passage."""
    agent = new_agent(pg)
    vector = np.random.default_rng(0).standard_normal(600).tolist()  # 2.4 kB, incompressible
    pg.insert_passages(agent.id, [Passage(text="short", embedding=vector)])
    toast = pg._one(
        "SELECT reltoastrelid::regclass::text AS name FROM pg_class WHERE oid = 'passages'::regclass"
    )["name"]
    out_of_line = pg._one(f"SELECT coalesce(sum(length(chunk_data)), 0) AS n FROM {toast}")["n"]
    assert out_of_line < 600 * 4


def test_recall_full_text_entries_go_straight_into_the_index(pg):
    """A GIN pending list is read through by every search until a vacuum merges it."""
    options = pg._one("SELECT reloptions FROM pg_class WHERE oid = 'messages_body'::regclass")
    assert "fastupdate=off" in options["reloptions"]


def test_passages_of_another_dimension_are_not_compared(pg):
    state = new_agent(pg)
    pg.insert_passages(
        state.id,
        [
            Passage(text="two", embedding=[1.0, 0.0]),
            Passage(text="three", embedding=[1.0, 0.0, 0.0]),
        ],
    )
    assert [p.text for p, _ in pg.search_passages(state.id, [1.0, 0.0, 0.0], 5)] == ["three"]


@pytest.mark.parametrize("query", ['"; DROP TABLE passages; --', "a & b | !c", "x:*", "'", "((("])
def test_tsquery_and_sql_syntax_in_archival_queries_are_plain_text(pg, query):
    state = new_agent(pg)
    pg.insert_passages(state.id, [Passage(text="DROP the kayak near a b", embedding=[1.0, 0.0])])
    pg.search_archival(state.id, query, np.array([1.0, 0.0]), 5)
    assert pg.count_passages(state.id) == 1


def test_memgpt_pg_uri_picks_postgresql(uri, monkeypatch, tmp_path):
    from memgpt.client import MemGPT

    monkeypatch.setenv("MEMGPT_PG_URI", uri)
    monkeypatch.setenv("MEMGPT_HOME", str(tmp_path))
    client = MemGPT()
    assert isinstance(client.store, PostgresStore)
    client.close()
    explicit = MemGPT(tmp_path / "m.db")  # a path given is a SQLite file still
    assert not isinstance(explicit.store, PostgresStore)
    explicit.close()


def test_a_search_just_after_a_load_reads_the_full_text_index(pg):
    """GIN's pending list held a fresh load's words: the planner priced the index above a
    scan of every passage (14 ms against 0.2 ms for one word at 10k passages)."""
    state = new_agent(pg)
    common = " ".join(f"w{k}" for k in range(30))
    pg.insert_passages(state.id, [Passage(text=f"{common} rare{i}") for i in range(2000)])
    pg._run("ANALYZE passages")
    plan = pg._query("EXPLAIN SELECT pk FROM passages WHERE body @@ 'rare7'::tsquery")
    assert "passages_body" in "\n".join(next(iter(r.values())) for r in plan)
