"""The sleep-time memory agent and timed heartbeats through the server: `enable_sleeptime`
through the official SDK (this file runs with both lines, see scripts/test), the
scheduler's timed events by calling its tick with a clock moved forward."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest

from memgpt.schemas import utcnow
from tests.server.conftest import POLICY
from tests.server.sdk import SDK


@pytest.fixture
def sdk(server):
    return SDK(server.url, server.key_a)


def _wait_for(check, timeout_s: float = 30):
    """The background run's result, polled (it runs after the reply is sent)."""
    deadline = time.monotonic() + timeout_s
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def test_a_sleep_time_agent_tidies_shared_memory_after_every_few_turns(server, sdk, http_a):
    name = f"main-{uuid.uuid4().hex[:6]}"
    main = sdk.create_agent(name, human="Name: Ana", enable_sleeptime=True)
    shown = http_a.get(f"/v1/agents/{main.id}").json()
    companion = shown["sleeptime_agent_id"]
    assert shown["enable_sleeptime"] and companion
    every = server.app.state.settings.sleeptime_frequency
    for i in range(every):
        assert sdk.send(main.id, f"fact {i}").messages  # the main agent answers each turn
    facts = [f"fact {i}" for i in range(every)]
    assert _wait_for(lambda: all(f in sdk.get_block(main.id, "human").value for f in facts))
    (edit,) = http_a.get(f"/v1/agents/{main.id}/core-memory/blocks/human/history").json()
    assert (edit["agent_id"], edit["agent_name"]) == (companion, f"{name}-sleeptime")
    kinds = {a["id"]: a["agent_type"] for a in http_a.get("/v1/agents/").json()}
    assert kinds[companion] == "sleeptime_agent" and kinds[main.id] == "memgpt_agent"
    http_a.delete(f"/v1/agents/{main.id}").raise_for_status()
    assert http_a.get(f"/v1/agents/{companion}").status_code == 404


def test_the_scheduler_sends_timed_heartbeats_and_wakes_an_idle_sleep_time_agent(server, http_a):
    quiet = http_a.post(
        "/v1/agents/", json={"name": "ticking", "model": POLICY, "heartbeat_interval_s": 60}
    ).json()
    sleepy = http_a.post(
        "/v1/agents/", json={"name": "sleepy", "model": POLICY, "enable_sleeptime": True}
    ).json()
    http_a.post(f"/v1/agents/{sleepy['id']}/messages", json={"input": "fact idle"})
    scheduler = server.app.state.scheduler
    assert not [r for r in scheduler.tick(utcnow()) if r]  # nothing due yet

    later = utcnow() + timedelta(minutes=5)
    for run in scheduler.tick(later):
        run.result(timeout=30)
    messages = http_a.get(f"/v1/agents/{quiet['id']}/messages").json()
    assert any(
        m["message_type"] == "user_message" and "heartbeat" in m["content"] for m in messages
    )
    human = http_a.get(f"/v1/agents/{sleepy['id']}/core-memory/blocks/human").json()
    assert "fact idle" in human["value"]
    off = http_a.patch(f"/v1/agents/{quiet['id']}", json={"heartbeat_interval_s": 0}).json()
    assert off["heartbeat_interval_s"] is None
    assert quiet["id"] not in _due(scheduler, later)


def _due(scheduler, now) -> list[str]:
    """The agents a tick at `now` started work for (each run waited for)."""
    store, before = scheduler.service.store, {}
    for state in store.list_agents():
        before[state.id] = store.last_seq(state.id)
    for run in scheduler.tick(now):
        run.result(timeout=30)
    return [i for i, seq in before.items() if store.last_seq(i) != seq]
