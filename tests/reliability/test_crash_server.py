"""Invariant 2 for the server: SIGKILL `memgpt server` during requests, restart, retry."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from memgpt.bench import reliability_crash_server
from memgpt.bench.server import INSTANT
from memgpt.server.app import create_app
from memgpt.server.settings import ServerSettings

KILLS = int(os.environ.get("MEMGPT_RELIABILITY_SERVER_KILLS", "4"))


def test_server_kills_lose_no_acknowledged_request_and_retries_add_nothing(tmp_path):
    figures = reliability_crash_server.run(KILLS, seed=7, workdir=tmp_path)
    assert figures["violations"] == 0, figures["violation_examples"]
    assert figures["kills"] == KILLS
    assert figures["acknowledged"] > 0


class Killed(Exception):
    """Stands in for SIGKILL between a message's commit and its saved answer."""


@pytest.mark.parametrize("how", ["header", "otid"])
def test_a_retry_after_a_kill_before_the_saved_answer_is_not_a_second_message(
    tmp_path, monkeypatch, how
):
    settings = ServerSettings(
        database=tmp_path / "memgpt.db", allow_anonymous=True, model=INSTANT, embedding="hash"
    )
    app = create_app(settings)
    with TestClient(app, base_url="http://127.0.0.1") as http:
        agent_id = http.post("/v1/agents/", json={"name": "a"}).json()["id"]
        body = {"messages": [{"role": "user", "content": "only once"}]}
        headers = {}
        if how == "header":
            headers["Idempotency-Key"] = "retry-1"
        else:
            body["messages"][0]["otid"] = "otid-1"

        def killed(*args):
            raise Killed

        with monkeypatch.context() as m:
            m.setattr(app.state.accounts, "save_idempotent_response", killed)
            with pytest.raises(Killed):
                http.post(f"/v1/agents/{agent_id}/messages", json=body, headers=headers)
        retried = http.post(f"/v1/agents/{agent_id}/messages", json=body, headers=headers)
        assert retried.status_code == 200
        assert [m.get("content") for m in retried.json()["messages"]][-1] == "hi"
        again = http.post(f"/v1/agents/{agent_id}/messages", json=body, headers=headers).json()
        assert again == retried.json()
        listed = http.get(f"/v1/agents/{agent_id}/messages").json()
        users = [m["content"] for m in listed if m["message_type"] == "user_message"]
        assert users == ["only once"]
