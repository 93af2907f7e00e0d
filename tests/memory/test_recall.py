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


def test_words_too_common_to_rank_by_give_way_to_rarer_ones(agent):
    agent.store.search_budget = 4
    add_user_messages(agent, [f"the weather on day {i}" for i in range(6)] + ["the kayak trip"])
    result = recall.search_text(agent.store, agent.id, "The kayak")
    assert [h["text"] for h in hits(result)] == ["the kayak trip"]
    assert "of 1 " in result  # an exact count of what the rare word matched


def test_a_query_of_only_common_words_lists_the_newest_first(agent, make_agent):
    other, _ = make_agent([], name="other")
    add_user_messages(other, ["tea for the other agent"])
    agent.store.search_budget = 4
    add_user_messages(agent, [f"tea number {i}" for i in range(7)])
    # "zebra" is rare but matches nothing: the common word still finds something
    result = recall.search_text(agent.store, agent.id, "tea zebra")
    assert [h["text"] for h in hits(result)] == [f"tea number {i}" for i in (6, 5, 4, 3, 2)]
    # at most budget + 1 of them
    assert "of 5 " in result
    assert "past the end" in recall.search_text(agent.store, agent.id, "tea", 1)


def test_the_count_stops_at_its_limit_and_says_so(agent):
    agent.store.search_count_limit = 3
    add_user_messages(agent, [f"kayak note {i}" for i in range(7)])
    first = recall.search_text(agent.store, agent.id, "kayak")
    assert first.startswith("Showing results 1-5 of more than 3 (page 0):")
    second = recall.search_text(agent.store, agent.id, "kayak", 1)
    assert second.startswith("Showing results 6-7 of more than 3 (page 1):")
    seen = [h["text"] for h in hits(first) + hits(second)]
    assert sorted(seen) == sorted(f"kayak note {i}" for i in range(7))
    assert recall.search_text(agent.store, agent.id, "kayak", 2) == (
        "Page 2 is past the end: there are more than 3 results."
    )
    found, total = agent.store.search_messages(agent.id, "kayak", 5)
    assert total == 4 and [m.text for m in found] == [h["text"] for h in hits(first)]


def test_another_agents_matches_never_show_nor_count(agent, make_agent):
    other, _ = make_agent([], name="other")
    agent.store.search_count_limit = 2
    for i in range(6):  # interleaved, so each agent's matches are spread among the other's
        add_user_messages(other, [f"kayak by the other agent {i}"])
        add_user_messages(agent, [f"kayak note {i}"])
    found, total = agent.store.search_messages(agent.id, "kayak", 5, 1)
    assert len(found) == 5 and all(m.text.startswith("kayak note") for m in found)
    assert total == 3  # more than the limit of 2
    found, total = other.store.search_messages(other.id, "other", 10)
    assert len(found) == 6 and total == 3


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


def test_stopwords_carry_no_weight(agent):
    # Before stopwords were dropped, "what did you" outweighed the one word that matters.
    add_user_messages(
        agent,
        [
            "what did you do? what did you see? what did you eat?",
            "what did you think of it, and what did you buy there?",
            "we planned the kayak trip for the long weekend in the north of the country",
        ],
    )
    first = hits(recall.search_text(agent.store, agent.id, "what did you say about the kayak"))
    assert [h["text"] for h in first] == [
        "we planned the kayak trip for the long weekend in the north of the country"
    ]


def test_a_query_of_only_stopwords_still_finds_its_matches(agent):
    add_user_messages(agent, ["what did you do", "nothing much", "what did you say"])
    first = hits(recall.search_text(agent.store, agent.id, "what did you"))
    assert {h["text"] for h in first} == {"what did you say", "what did you do"}


def test_an_agents_ranking_depends_only_on_its_own_messages(agent, make_agent):
    """A busy second agent changes neither the order of this agent's results nor their
    count: not through word weights, lengths, nor the match budget."""
    add_user_messages(
        agent,
        [
            "apple apple banana",
            "banana cherry",
            "apple cherry cherry in a rather long sentence about the orchard",
            "cherry",
            "banana banana",
            "an apple",
            "the orchard_gate by the apple tree",
        ],
    )
    agent.store.search_budget = 50
    queries = ["apple banana cherry", "apple", "banana orchard", "cherry apple", "orchard_gate"]

    def ranking(query):
        found, total = agent.store.search_messages(agent.id, query, 100)
        return [m.text for m in found], total

    before = {q: ranking(q) for q in queries}
    busy, _ = make_agent([], name="busy")
    add_user_messages(busy, ["apple pie"] * 40 + ["banana bread with cherry jam"] * 60)
    add_user_messages(busy, ["a very long message " * 30 + "cherry orchard_gate"] * 20)
    assert {q: ranking(q) for q in queries} == before
