"""Runs and steps through the official SDK, unchanged: this file runs with the 1.x line
in the main environment and with 0.1.307 in .venv-sdk01 (both lines have these calls)."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.server import policies
from tests.server.sdk import LEGACY, SDK, APIError


@pytest.fixture
def sdk(server):
    return SDK(server.url, server.key_a)


@pytest.fixture
def agent(sdk):
    return sdk.create_agent(f"run-{uuid.uuid4().hex[:6]}")


def wait_for(sdk, run_id: str, status: str):
    for _ in range(200):
        run = sdk.client.runs.retrieve(run_id)
        if run.status == status:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} is {run.status}, not {status}")


def test_an_async_run_listed_with_its_steps_and_their_usage(sdk, agent):
    run = sdk.send_async(agent.id, "hello")
    done = wait_for(sdk, run.id, "completed")
    assert done.stop_reason == "end_turn" and done.agent_id == agent.id
    assert run.id in [r.id for r in sdk.client.runs.list(agent_ids=[agent.id])]
    (step,) = list(sdk.client.runs.steps.list(run.id))
    assert step.run_id == run.id and step.model
    assert step.total_tokens == step.prompt_tokens + step.completion_tokens
    assert sdk.client.steps.retrieve(step.id).id == step.id
    assert step.id in [s.id for s in sdk.client.steps.list(agent_id=agent.id)]


def test_a_run_cancelled_mid_step_keeps_that_step_whole(sdk, agent):
    policies.HOLDING.clear()
    policies.RELEASED.clear()
    try:
        run = sdk.send_async(agent.id, "hold figs")
        assert policies.HOLDING.wait(10)
        assert sdk.agents.messages.cancel(agent.id, run_ids=[run.id]) == {run.id: "cancelled"}
    finally:
        policies.RELEASED.set()
    for _ in range(200):
        steps = list(sdk.client.runs.steps.list(run.id))
        if steps:
            break
        time.sleep(0.05)
    time.sleep(0.3)
    (step,) = list(sdk.client.runs.steps.list(run.id))
    assert step.prompt_tokens == policies.HELD_USAGE["prompt_tokens"]
    assert sdk.client.runs.retrieve(run.id).status == "cancelled"
    assert "figs" in sdk.get_block(agent.id, "human").value


def test_a_runs_usage_and_deleting_it(sdk, agent):
    run = sdk.send_async(agent.id, "hello")
    wait_for(sdk, run.id, "completed")
    (step,) = list(sdk.client.runs.steps.list(run.id))
    usage = sdk.client.runs.usage.retrieve(run.id)
    assert usage.prompt_tokens == step.prompt_tokens
    assert usage.total_tokens == step.prompt_tokens + step.completion_tokens
    if LEGACY:  # the 1.x line has no call to delete a run
        assert sdk.client.runs.delete(run.id).id == run.id
        with pytest.raises(APIError) as missing:
            sdk.client.runs.retrieve(run.id)
        assert missing.value.status_code == 404
