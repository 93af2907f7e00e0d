"""The relevance floor of vector search, on every backend: measured per agent from what
meaningless probes find, kept until the agent's items double, and applied to archival
search as to recall."""

from __future__ import annotations

import pytest

from memgpt.memory import archival, relevance
from tests.memory.test_semantic_recall import total_of


@pytest.fixture
def agent(make_agent):
    agent, _ = make_agent([])
    return agent


def test_the_floor_is_measured_once_per_doubling_of_the_agents_items(agent, monkeypatch):
    assert relevance.floor(agent.store, agent.embedder, agent.id, "archival") is None
    for i in range(10):
        archival.insert(agent.store, agent.embedder, agent.id, f"note {i} about herons")
    searches = []
    search = agent.store.search_passages

    def counting(*args, **kwargs):
        searches.append(args)
        return search(*args, **kwargs)

    monkeypatch.setattr(agent.store, "search_passages", counting)
    first = relevance.floor(agent.store, agent.embedder, agent.id, "archival")
    assert isinstance(first, float) and len(searches) == relevance.PROBES
    assert relevance.floor(agent.store, agent.embedder, agent.id, "archival") == first
    assert len(searches) == relevance.PROBES  # kept
    for i in range(10):
        archival.insert(agent.store, agent.embedder, agent.id, f"note {i} about owls")
    relevance.floor(agent.store, agent.embedder, agent.id, "archival")
    assert len(searches) == 2 * relevance.PROBES  # measured again


def test_archival_search_for_nonsense_gets_few_results(agent):
    for i in range(120):
        archival.insert(agent.store, agent.embedder, agent.id, f"fact {i} about owls and herons")
    nonsense = "xyzzy qwerty"
    vector = agent.embedder.embed([nonsense])[0]
    assert agent.store.search_archival(agent.id, nonsense, vector, 5)[1] >= 50
    assert total_of(archival.search(agent.store, agent.embedder, agent.id, nonsense)) <= 5
    assert total_of(archival.search(agent.store, agent.embedder, agent.id, "owls")) >= 100
