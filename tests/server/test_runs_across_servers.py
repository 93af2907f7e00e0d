"""A server's runs are its own while it lives: another server starting on the same
database (either backend) leaves a run under way alone."""

from __future__ import annotations

import uuid

from memgpt.store.dialects.sqlite import SQLiteStore
from tests.server import policies
from tests.server.test_runs_api import wait_for


def another_server_store(store):
    if isinstance(store, SQLiteStore):
        return SQLiteStore(store.path)
    from memgpt.store.dialects.postgres import PostgresStore

    return PostgresStore(store.uri)


def test_another_server_starting_leaves_a_run_under_way_alone(server, http_a):
    agent_id = http_a.post("/v1/agents/", json={"name": f"o-{uuid.uuid4().hex[:6]}"}).json()["id"]
    other = another_server_store(server.app.state.service.store)
    policies.HOLDING.clear()
    policies.RELEASED.clear()
    try:
        run = http_a.post(f"/v1/agents/{agent_id}/messages/async", json={"input": "hold figs"})
        assert policies.HOLDING.wait(10)
        wait_for(http_a, run.json()["id"], "running")
        other.runs_owner()
        assert other.fail_orphaned_runs() == 0  # what a starting server does
        assert http_a.get(f"/v1/runs/{run.json()['id']}").json()["status"] == "running"
    finally:
        policies.RELEASED.set()
        other.close()
    wait_for(http_a, run.json()["id"], "completed")
