"""Invariant 2 under SIGKILL during steps, eviction into the summary, and document loads."""

from __future__ import annotations

import os

import pytest

from memgpt.bench import reliability_crash

KILLS = int(os.environ.get("MEMGPT_RELIABILITY_KILLS", "21"))


def test_kills_during_steps_eviction_and_loading_lose_nothing(tmp_path):
    figures = reliability_crash.run(KILLS, seed=7, workdir=tmp_path)
    assert figures["violations"] == 0, figures["violation_examples"]
    assert figures["kills"] == KILLS
    parts = figures["parts"]
    assert parts["steps"]["acknowledged"] > 0 and parts["evict"]["acknowledged"] > 0
    assert parts["evict"]["evicted_messages"] > 0, "the small window made the agent evict"


def test_a_step_killed_before_its_commit_leaves_no_archival_note(tmp_path, make_agent):
    """The passage a step saves commits with the step, so a redone step cannot save it twice."""
    from memgpt.llm.scripted import call

    agent, _ = make_agent(
        [call("archival_memory_insert", content="a note", request_heartbeat=True)],
    )

    def die(*args, **kwargs):
        raise KeyboardInterrupt  # stands in for a kill between the function and the commit

    agent.store.append_messages = die
    with pytest.raises(KeyboardInterrupt):
        agent.send("remember this")
    del agent.store.append_messages
    assert agent.store.count_passages(agent.id) == 0
    assert agent.store.count_messages(agent.id) == 0
