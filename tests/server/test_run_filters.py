"""Letta's run filters memgpt implements, on both backends, applied before the page is
cut (a page of background runs has as many as asked for), and its one ordering named."""

from __future__ import annotations

import uuid

from tests.server.test_runs_api import wait_for


def test_runs_filtered_by_stop_reason_and_background_in_full_pages(http_a):
    agent_id = http_a.post("/v1/agents/", json={"name": f"f-{uuid.uuid4().hex[:6]}"}).json()["id"]
    said = http_a.post(f"/v1/agents/{agent_id}/messages", json={"input": "hi"}).json()
    ok = said["messages"][-1]["run_id"]
    assert (
        http_a.post(f"/v1/agents/{agent_id}/messages", json={"input": "fail x"}).status_code == 502
    )
    bg = http_a.post(f"/v1/agents/{agent_id}/messages/async", json={"input": "later"}).json()
    wait_for(http_a, bg["id"], "completed")

    def listed(**params) -> list[str]:
        got = http_a.get("/v1/runs/", params={"agent_id": agent_id, **params})
        return [r["id"] for r in got.raise_for_status().json()]

    (failed,) = listed(stop_reason="llm_api_error")
    assert failed not in (ok, bg["id"])
    assert listed(stop_reason="end_turn", order="asc") == [ok, bg["id"]]
    assert listed(background="true") == [bg["id"]]
    assert listed(background="false", limit=1) == [failed]  # the newest that is not
    assert listed(order_by="created_at", order="asc") == [ok, failed, bg["id"]]
    assert http_a.get("/v1/runs/", params={"order_by": "status"}).status_code == 422
    steps = http_a.get(f"/v1/runs/{ok}/steps", params={"order_by": "created_at"})
    assert steps.status_code == 200 and len(steps.json()) == 1
    page = http_a.get(f"/v1/agents/{agent_id}/messages", params={"order_by": "created_at"})
    assert page.status_code == 200 and page.json()
