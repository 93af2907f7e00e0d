"""Working context edits: limits, exact replace, history of who changed what."""

from __future__ import annotations

import pytest

from memgpt.memory import working
from memgpt.memory.working import MemoryEditError
from memgpt.schemas import AgentState, Block


def state() -> AgentState:
    return AgentState(
        name="a", system="s", blocks=[Block(label="human", value="Name: Ana", limit=40)]
    )


def test_append_adds_a_line_and_reports_the_edit():
    s = state()
    edit = working.append(s, "human", "Likes tea")
    assert s.block("human").value == "Name: Ana\nLikes tea"
    assert (edit.old_value, edit.new_value, edit.actor) == (
        "Name: Ana",
        "Name: Ana\nLikes tea",
        "agent",
    )


def test_replace_needs_the_exact_text():
    s = state()
    working.replace(s, "human", "Ana", "Ana Lima")
    assert s.block("human").value == "Name: Ana Lima"
    with pytest.raises(MemoryEditError, match="exact current text"):
        working.replace(s, "human", "Bob", "Rob")


def test_edit_over_the_limit_changes_nothing():
    s = state()
    with pytest.raises(MemoryEditError, match="over its limit of 40"):
        working.append(s, "human", "x" * 40)
    assert s.block("human").value == "Name: Ana"


def test_unknown_block_names_the_real_ones():
    with pytest.raises(MemoryEditError, match="the blocks are: human"):
        working.append(state(), "persona", "x")


def test_render_shows_sizes_against_limits():
    assert '<human characters="9/40">' in working.render(state())


def test_user_edits_are_recorded_with_the_agent_edits(make_agent):
    from memgpt.llm.scripted import call

    agent, _ = make_agent([call("core_memory_append", label="human", content="Likes tea")])
    agent.send("I like tea")
    agent.edit_block("human", "Name: Ana")
    history = agent.store.block_history(agent.state.block("human").id)
    assert [(h.actor, h.agent_id, h.new_value.splitlines()[-1]) for h in history] == [
        ("agent", agent.id, "Likes tea"),
        ("user", agent.id, "Name: Ana"),
    ]
