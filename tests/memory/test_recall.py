"""Recall storage search: ranked full text, date ranges, pagination, hostile query text."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from memgpt.agent import events
from memgpt.memory import recall
from memgpt.memory.recall import PAGE_SIZE, SearchError


@pytest.fixture
def agent(make_agent):
    agent, _ = make_agent([])
    return agent


def add_user_messages(agent, texts, start=None):
    messages = [events.user_message(t) for t in texts]
    if start is not None:
        for i, m in enumerate(messages):
            m.created_at = start + timedelta(days=i)
    agent.store.append_messages(agent.id, messages)


def hits(result: str) -> list[dict]:
    return json.loads(result.split("\n", 1)[1]) if "\n" in result else []


def test_best_match_ranks_first(agent):
    add_user_messages(
        agent,
        [
            "I went hiking on Sunday",
            "hiking hiking hiking in the alps with my dog",
            "tea time",
            "a dog",
        ],
    )
    first = hits(recall.search_text(agent.store, agent.id, "hiking dog"))
    assert first[0]["text"] == "hiking hiking hiking in the alps with my dog"
    assert {h["text"] for h in first} >= {"I went hiking on Sunday", "a dog"}
    assert "tea time" not in {h["text"] for h in first}


def test_pages_cover_every_hit_once(agent):
    add_user_messages(agent, [f"note number {i} about kayaks" for i in range(12)])
    seen = []
    for page in range(3):
        result = recall.search_text(agent.store, agent.id, "kayaks", page)
        assert result.startswith(f"Showing results {page * PAGE_SIZE + 1}-")
        seen += [h["text"] for h in hits(result)]
    assert sorted(seen) == sorted(f"note number {i} about kayaks" for i in range(12))
    assert "past the end" in recall.search_text(agent.store, agent.id, "kayaks", 3)


@pytest.mark.parametrize(
    "query", ['"; DROP TABLE messages; --', "NEAR(a b)", "kayak*", "a OR b AND NOT c", "'", "((("]
)
def test_sql_and_fts_syntax_are_plain_text(agent, query):
    add_user_messages(agent, ["DROP the kayak near a b"])
    recall.search_text(agent.store, agent.id, query)
    assert agent.store.count_messages(agent.id) == 1


def test_date_search_is_inclusive_and_paginated(agent):
    start = datetime(2024, 3, 1, 12, tzinfo=UTC)
    add_user_messages(agent, [f"day {i}" for i in range(10)], start=start)
    result = recall.search_date(agent.store, agent.id, "2024-03-02", "2024-03-08")
    assert [h["text"] for h in hits(result)] == ["day 1", "day 2", "day 3", "day 4", "day 5"]
    assert "of 7" in result
    page1 = recall.search_date(agent.store, agent.id, "2024-03-02", "2024-03-08", 1)
    assert [h["text"] for h in hits(page1)] == ["day 6", "day 7"]


def test_bad_dates_say_how_to_write_them(agent):
    with pytest.raises(SearchError, match="like 2024-01-31"):
        recall.search_date(agent.store, agent.id, "last tuesday", "2024-01-01")
    with pytest.raises(SearchError, match="before start_date"):
        recall.search_date(agent.store, agent.id, "2024-02-01", "2024-01-01")
