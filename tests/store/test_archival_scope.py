"""Archival keyword ranking on every backend depends only on the agent's scope: its own
passages and its attached sources', never on other agents' or sources' passages."""

from __future__ import annotations

import random

import pytest

from memgpt.schemas import AgentState, Block, EmbeddingConfig, Passage
from memgpt.store.base import Source, SourceFile
from memgpt.store.sql import archival as sql_archival
from tests.store.backends import store_opener

WORDS = "apple banana cherry orchard river stone meadow lantern harbor violet".split()


def agent(store, name: str) -> str:
    state = AgentState(name=name, system="s", blocks=[Block(label="h")])
    store.create_agent(state)
    return state.id


def source(store, name: str, texts: list[str]) -> str:
    made = Source(name=name, embedding=EmbeddingConfig(provider="hash"))
    store.create_source(made)
    file = SourceFile(source_id=made.id, path=f"/tmp/{name}.txt", sha256=name, status="done")
    passages = [Passage(text=t, source=name, chunk_hash=f"{name}{i}") for i, t in enumerate(texts)]
    store.add_file(file, passages)
    return made.id


def corpus(seed: int, n: int, longest: int, shortest: int = 2) -> list[str]:
    """Passages of a few words each, under 40 words (tantivy stores shorter lengths exactly)."""
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(shortest, longest))) for _ in range(n)]


def ranking(store, agent_id: str, query: str, limit: int = 100) -> list[tuple[str, float]]:
    hits, _ = store.search_archival(agent_id, query, None, limit)
    return [(h.passage.text, h.bm25) for h in hits]


QUERIES = ["apple banana cherry", "apple", "orchard river", "cherry lantern violet"]


def test_a_busy_agent_or_source_leaves_the_archival_ranking_unchanged(store):
    a = agent(store, "a")
    store.insert_passages(a, [Passage(text=t) for t in corpus(1, 40, 12)])
    store.attach_source(a, source(store, "docs", corpus(2, 40, 30)))
    before = {q: ranking(store, a, q) for q in QUERIES}
    busy = agent(store, "busy")
    store.insert_passages(busy, [Passage(text="apple pie apple tart") for _ in range(60)])
    source(store, "noise", ["a very long passage about the cherry orchard " * 4] * 40)
    assert {q: ranking(store, a, q) for q in QUERIES} == before


@pytest.mark.parametrize("k", [3, 10, 100])
def test_scope_ranking_is_bm25_over_a_store_of_the_scope_alone(tmp_path, backend, k, monkeypatch):
    """An agent's passages and two attached sources, searched through their own indexes,
    rank as one agent holding all of them alone does. Each owner's lengths count against
    its own average (`scope_bm25`), so the owners' passages here are of one length."""
    monkeypatch.setattr(sql_archival, "CANDIDATE_DEPTH", 1)  # each ranking gives k, not 100
    own, docs, notes = (corpus(seed, n, 12, shortest=12) for seed, n in ((3, 60), (4, 80), (5, 50)))
    for name in ("scoped", "alone"):
        (tmp_path / name).mkdir()
    store = store_opener(backend, tmp_path / "scoped")()
    alone = store_opener(backend, tmp_path / "alone")()
    try:
        a = agent(store, "a")
        store.insert_passages(a, [Passage(text=t) for t in own])
        for name, texts in (("docs", docs), ("notes", notes)):
            store.attach_source(a, source(store, name, texts))
        store.insert_passages(agent(store, "busy"), [Passage(text="apple") for _ in range(50)])
        solo = agent(alone, "solo")
        alone.insert_passages(solo, [Passage(text=t) for t in own + docs + notes])
        for query in QUERIES:
            reference = ranking(alone, solo, query, limit=1000)
            hits, _ = store.search_archival(a, query, None, k)
            found = [(h.passage.text, h.bm25) for h in hits]
            # The same scores (tantivy's are float32), best first; which of two tied
            # passages comes first may differ.
            same = pytest.approx([s for _, s in reference][:k], rel=1e-5)
            assert [s for _, s in found] == same
            assert [s for _, s in found] == pytest.approx(
                [dict(reference)[t] for t, _ in found], rel=1e-5
            )
    finally:
        store.close()
        alone.close()
