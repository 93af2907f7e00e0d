"""Deleting a run (Letta's `DELETE /v1/runs/{id}`) and its usage, on both backends: a run
is deleted with its steps while recall storage keeps its messages; a run under way stops
as a cancelled one does, its step under way committing whole; what memgpt does not keep
of a run (a replayable stream, traces, metrics) is a 501 saying what to read instead."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.server import policies
from tests.server.test_runs_api import wait_for


@pytest.fixture
def agent_id(http_a) -> str:
    made = http_a.post("/v1/agents/", json={"name": f"d-{uuid.uuid4().hex[:6]}"})
    return made.raise_for_status().json()["id"]


def test_a_run_is_deleted_with_its_steps_and_recall_keeps_its_messages(http_a, agent_id):
    policies.RELEASED.set()  # the held step goes on at once, reporting known usage
    reply = http_a.post(f"/v1/agents/{agent_id}/messages", json={"input": "hold pears"}).json()
    run_id = reply["messages"][-1]["run_id"]
    steps = http_a.get(f"/v1/runs/{run_id}/steps").json()
    usage = http_a.get(f"/v1/runs/{run_id}/usage").json()
    held = policies.HELD_USAGE
    assert usage["step_count"] == len(steps) > 1
    assert usage["prompt_tokens"] == sum(s["prompt_tokens"] for s in steps) == held["prompt_tokens"]
    assert usage["completion_tokens"] == held["completion_tokens"]
    assert usage["total_tokens"] == held["prompt_tokens"] + held["completion_tokens"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == held["cached_prompt_tokens"]
    before = http_a.get(f"/v1/agents/{agent_id}/messages").json()

    deleted = http_a.delete(f"/v1/runs/{run_id}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["id"] == run_id and deleted.json()["status"] == "completed"
    assert http_a.get(f"/v1/runs/{run_id}").status_code == 404
    assert http_a.get(f"/v1/runs/{run_id}/usage").status_code == 404
    assert http_a.get(f"/v1/steps/{steps[0]['id']}").status_code == 404
    assert http_a.delete(f"/v1/runs/{run_id}").status_code == 404
    assert http_a.get(f"/v1/agents/{agent_id}/messages").json() == before


def test_a_run_deleted_under_way_stops_after_its_step_which_commits_whole(http_a, server, agent_id):
    policies.HOLDING.clear()
    policies.RELEASED.clear()
    try:
        run = http_a.post(
            f"/v1/agents/{agent_id}/messages/async", json={"input": "hold plums"}
        ).json()
        assert policies.HOLDING.wait(10)  # the model is mid-call in the run's first step
        assert wait_for(http_a, run["id"], "running")
        assert http_a.delete(f"/v1/runs/{run['id']}").json()["status"] == "running"
        assert http_a.get(f"/v1/runs/{run['id']}").status_code == 404
    finally:
        policies.RELEASED.set()
    store = server.app.state.service.store
    for _ in range(200):  # the held step commits (its heartbeat asks for another step)
        newest = store.messages_page(agent_id, limit=1, newest_first=True)
        if newest and newest[0].role == "tool":
            break
        time.sleep(0.05)
    time.sleep(0.3)
    last = store.messages_page(agent_id, limit=1, newest_first=True)[0]
    assert last.role == "tool"  # no step after the held one
    human = http_a.get(f"/v1/agents/{agent_id}/core-memory/blocks/human").json()
    assert "plums" in human["value"]  # the held step's memory edit committed with it
    assert store.list_steps([agent_id], run["id"], 10, newest_first=False) == []
    again = http_a.post(f"/v1/agents/{agent_id}/messages", json={"input": "still here"})
    said = [m.get("content") for m in again.raise_for_status().json()["messages"]]
    assert "echo: still here" in said


@pytest.mark.parametrize(
    ("method", "what", "says"),
    [("POST", "stream", "messages"), ("GET", "trace", "steps"), ("GET", "metrics", "usage")],
)
def test_what_memgpt_does_not_keep_of_a_run_is_a_501_saying_what_to_read(
    http_a, agent_id, method, what, says
):
    reply = http_a.post(f"/v1/agents/{agent_id}/messages", json={"input": "x"}).json()
    run_id = reply["messages"][-1]["run_id"]
    got = http_a.request(method, f"/v1/runs/{run_id}/{what}")
    assert got.status_code == 501
    assert f"/v1/runs/{run_id}/{says}" in got.json()["detail"]
    assert http_a.request(method, f"/v1/runs/run-nope/{what}").status_code == 404
