"""The agents the scheduler wakes are found by an index on either backend: those with a
heartbeat interval or a sleep-time agent, and no others; a database written before the
index marks them from their saved state when it upgrades."""

from __future__ import annotations

from memgpt.schemas import AgentState
from memgpt.store.migrations import STEPS, _statements


def make_agent(store, name: str) -> AgentState:
    state = AgentState(name=name, system="s", blocks=[])
    store.create_agent(state)
    return state


def test_only_agents_with_a_heartbeat_interval_or_a_sleep_time_agent(store):
    plain, ticking, sleepy, helper = (make_agent(store, n) for n in ("a", "b", "c", "d"))
    ticking.heartbeat_interval_s = 60
    store.save_agent(ticking)
    sleepy.sleeptime_agent_id = helper.id
    store.save_agent(sleepy)
    assert [a.id for a in store.timed_agents()] == [ticking.id, sleepy.id]
    ticking.heartbeat_interval_s = None
    store.save_agent(ticking)
    assert [a.id for a in store.timed_agents()] == [sleepy.id]
    assert plain.id not in [a.id for a in store.timed_agents()]


def test_an_upgrade_marks_the_timed_agents_from_their_state(store, backend):
    ticking = make_agent(store, "b")
    make_agent(store, "a")  # not timed: the upgrade leaves it unmarked
    ticking.heartbeat_interval_s = 30
    store.save_agent(ticking)
    store._run("UPDATE agents SET timed = 0")  # as the column's default leaves them
    (step,) = [s for s in STEPS if s.name == "timed agents"]
    (mark,) = [s for s in _statements(getattr(step, backend)) if s.startswith("UPDATE")]
    store._run(mark)
    assert [a.id for a in store.timed_agents()] == [ticking.id]
