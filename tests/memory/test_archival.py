"""Archival storage: insert, similarity search with pagination, list and delete."""

from __future__ import annotations

import json

import pytest

from memgpt.memory import archival
from memgpt.memory.recall import SearchError


@pytest.fixture
def agent(make_agent):
    agent, _ = make_agent([])
    return agent


def test_search_finds_the_closest_passage_first(agent):
    for text in ["The capital of France is Paris", "Bananas are yellow", "Paris has the Louvre museum"]:
        archival.insert(agent.store, agent.embedder, agent.id, text)
    result = archival.search(agent.store, agent.embedder, agent.id, "capital of France")
    rows = json.loads(result.split("\n", 1)[1])
    assert rows[0]["text"] == "The capital of France is Paris"
    assert rows[0]["score"] >= rows[1]["score"]


def test_pagination_and_delete(agent):
    for i in range(7):
        archival.insert(agent.store, agent.embedder, agent.id, f"fact {i} about owls")
    first = json.loads(archival.search(agent.store, agent.embedder, agent.id, "owls").split("\n", 1)[1])
    second = json.loads(archival.search(agent.store, agent.embedder, agent.id, "owls", 1).split("\n", 1)[1])
    assert len(first) == 5 and len(second) == 2
    assert {r["text"] for r in first}.isdisjoint(r["text"] for r in second)
    passages = agent.store.list_passages(agent.id)
    assert agent.store.delete_passage(agent.id, passages[0].id)
    assert not agent.store.delete_passage(agent.id, passages[0].id)
    assert agent.store.count_passages(agent.id) == 6


def test_empty_content_is_refused(agent):
    with pytest.raises(SearchError, match="empty"):
        archival.insert(agent.store, agent.embedder, agent.id, "   ")
