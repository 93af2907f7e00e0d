"""Runs and steps over the REST API, on both store backends: a message sent async is a
run processed in the background, listed with its steps and their usage; a run cancelled
mid-step stops after that step, which commits whole; sync and streamed replies carry
their run's and step's ids; runs a stopped server left running are marked failed."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from memgpt.server.runs import RunService
from memgpt.store.base import Run
from tests.server import policies


@pytest.fixture
def agent_id(http_a) -> str:
    made = http_a.post("/v1/agents/", json={"name": f"r-{uuid.uuid4().hex[:6]}"})
    return made.raise_for_status().json()["id"]


def wait_for(http, run_id: str, status: str) -> dict:
    for _ in range(200):
        run = http.get(f"/v1/runs/{run_id}").json()
        if run["status"] == status:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} is {run['status']}, not {status}")


def test_an_async_message_is_a_run_listed_with_its_steps(http_a, agent_id):
    run = http_a.post(f"/v1/agents/{agent_id}/messages/async", json={"input": "hello"}).json()
    assert run["id"].startswith("run-") and run["status"] in ("created", "running")
    assert run["background"] is True
    done = wait_for(http_a, run["id"], "completed")
    assert done["stop_reason"] == "end_turn" and done["completed_at"]
    listed = http_a.get("/v1/runs/", params={"agent_ids": [agent_id]}).json()
    assert [r["id"] for r in listed] == [run["id"]]
    (step,) = http_a.get(f"/v1/runs/{run['id']}/steps").json()
    assert step["run_id"] == run["id"] and step["stop_reason"] == "end_turn"
    assert step["model"] and step["duration_ns"] > 0
    assert http_a.get(f"/v1/steps/{step['id']}").json() == step
    assert step["id"] in [
        s["id"] for s in http_a.get("/v1/steps/", params={"agent_id": agent_id}).json()
    ]
    messages = http_a.get(f"/v1/runs/{run['id']}/messages").json()
    assert [m["message_type"] for m in messages][-1] == "assistant_message"
    assert messages[-1]["content"] == "echo: hello"
    assert {m["step_id"] for m in messages} == {step["id"]}


def test_a_run_cancelled_mid_step_stops_after_that_step_whole(http_a, server, agent_id):
    policies.HOLDING.clear()
    policies.RELEASED.clear()
    try:
        run = http_a.post(
            f"/v1/agents/{agent_id}/messages/async", json={"input": "hold kiwis"}
        ).json()
        assert policies.HOLDING.wait(10)  # the model is mid-call in the run's first step
        assert wait_for(http_a, run["id"], "running")
        cancelled = http_a.post(
            f"/v1/agents/{agent_id}/messages/cancel", json={"run_ids": [run["id"]]}
        )
        assert cancelled.json() == {run["id"]: "cancelled"}
    finally:
        policies.RELEASED.set()
    for _ in range(200):  # the step under way commits, then the run stops before the next
        if http_a.get(f"/v1/runs/{run['id']}/steps").json():
            break
        time.sleep(0.05)
    time.sleep(0.3)
    (step,) = http_a.get(f"/v1/runs/{run['id']}/steps").json()
    usage = policies.HELD_USAGE
    assert step["prompt_tokens"] == usage["prompt_tokens"]
    assert step["completion_tokens"] == usage["completion_tokens"]
    assert step["cached_input_tokens"] == usage["cached_prompt_tokens"]
    assert step["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert step["stop_reason"] is None  # the chain would have gone on
    got = http_a.get(f"/v1/runs/{run['id']}").json()
    assert got["status"] == "cancelled" and got["stop_reason"] == "cancelled"
    # The held step committed whole: its call, its result and its memory edit.
    types = [m["message_type"] for m in http_a.get(f"/v1/runs/{run['id']}/messages").json()]
    assert types == [
        "user_message",
        "reasoning_message",
        "tool_call_message",
        "tool_return_message",
    ]
    human = http_a.get(f"/v1/agents/{agent_id}/core-memory/blocks/human").json()
    assert "kiwis" in human["value"]
    store = server.app.state.service.store
    last = store.messages_page(agent_id, limit=1, newest_first=True)[0]
    assert last.role == "tool"  # no heartbeat, no second step
    # A cancel of an ended run says how it ended.
    again = http_a.post(f"/v1/agents/{agent_id}/messages/cancel", json={"run_ids": [run["id"]]})
    assert again.json() == {run["id"]: "cancelled"}


def test_sync_and_streamed_replies_carry_run_and_step_ids(http_a, agent_id):
    reply = http_a.post(f"/v1/agents/{agent_id}/messages", json={"input": "sync"}).json()
    (message,) = [m for m in reply["messages"] if m["message_type"] == "assistant_message"]
    run = http_a.get(f"/v1/runs/{message['run_id']}").json()
    assert run["status"] == "completed" and run["background"] is False
    (step,) = http_a.get(f"/v1/runs/{run['id']}/steps").json()
    assert message["step_id"] == step["id"]
    with http_a.stream(
        "POST", f"/v1/agents/{agent_id}/messages/stream", json={"input": "streamed"}
    ) as response:
        events = [
            json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")
        ]
    said = [e for e in events if e.get("message_type") == "assistant_message"]
    assert said and said[0]["run_id"] != run["id"] and said[0]["step_id"].startswith("step-")
    runs = http_a.get("/v1/runs/", params={"agent_id": agent_id, "order": "asc"}).json()
    assert [r["id"] for r in runs] == [run["id"], said[0]["run_id"]]
    page = http_a.get(
        "/v1/runs/", params={"agent_id": agent_id, "order": "asc", "after": run["id"]}
    ).json()
    assert [r["id"] for r in page] == [said[0]["run_id"]]


def test_runs_are_the_owners_alone(server, http_a, agent_id):
    run = http_a.post(f"/v1/agents/{agent_id}/messages/async", json={"input": "mine"}).json()
    wait_for(http_a, run["id"], "completed")
    import httpx

    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.key_b}"}
    ) as http_b:
        assert http_b.get(f"/v1/runs/{run['id']}").status_code == 404
        assert run["id"] not in [r["id"] for r in http_b.get("/v1/runs/").json()]
        assert http_b.get("/v1/steps/", params={"agent_id": agent_id}).status_code == 404


def test_a_run_left_running_by_a_stopped_server_is_marked_failed(server, agent_id):
    service = server.app.state.service
    left = Run(agent_id=agent_id, status="running")
    service.store.create_run(left)
    RunService(service, server.app.state.steps)  # what a starting server does
    failed = service.store.get_run(left.id)
    assert failed.status == "failed" and failed.stop_reason == "error"


def test_an_organization_may_have_only_a_few_background_runs(http_a, server, agent_id):
    runs = server.app.state.runs
    policies.HOLDING.clear()
    policies.RELEASED.clear()
    share, runs.per_org = runs.per_org, 1
    try:
        first = http_a.post(f"/v1/agents/{agent_id}/messages/async", json={"input": "hold x"})
        assert policies.HOLDING.wait(10)
        refused = http_a.post(f"/v1/agents/{agent_id}/messages/async", json={"input": "more"})
        assert refused.status_code == 429 and "background" in refused.json()["detail"]
        assert [r["id"] for r in http_a.get("/v1/runs/", params={"agent_id": agent_id}).json()] == [
            first.json()["id"]
        ]
    finally:
        policies.RELEASED.set()
        runs.per_org = share
    wait_for(http_a, first.json()["id"], "completed")


def test_async_refusals_say_what_to_do(http_a, agent_id):
    streamed = http_a.post(
        f"/v1/agents/{agent_id}/messages/async", json={"input": "x", "streaming": True}
    )
    assert streamed.status_code == 400 and "streaming" in streamed.json()["detail"]
    callback = http_a.post(
        f"/v1/agents/{agent_id}/messages/async",
        json={"input": "x", "callback_url": "http://example.com/"},
    )
    assert callback.status_code == 400 and "callback_url" in callback.json()["detail"]
    assert http_a.get("/v1/runs/", params={"agent_id": agent_id}).json() == []
    assert http_a.get("/v1/runs/run-nope").status_code == 404
    assert http_a.get("/v1/steps/step-nope").status_code == 404
