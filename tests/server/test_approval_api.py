"""Human approval over plain HTTP, in Letta's shapes: the request stops the run with
stop reason requires_approval, the answer goes to POST …/messages (plain, streamed or
async), and what does not fit what waits is a 400 saying what to do."""

from __future__ import annotations

import json
import time
import uuid

from fastapi.testclient import TestClient

from memgpt.server.app import create_app
from memgpt.server.settings import ServerSettings
from memgpt.store.accounts import UserTool
from tests.server.conftest import POLICY
from tests.server.live import org_key

RULE = {"type": "requires_approval", "tool_name": "core_memory_append"}


def _careful(http) -> str:
    body = {"name": f"careful-{uuid.uuid4().hex[:6]}", "tool_rules": [RULE]}
    created = http.post("/v1/agents/", json=body)
    assert created.status_code == 200, created.text
    return created.json()["id"]


def _ask(http, agent_id: str) -> dict:
    sent = http.post(f"/v1/agents/{agent_id}/messages", json={"input": "remember figs"})
    assert sent.status_code == 200, sent.text
    return sent.json()


def _answer(http, agent_id: str, request_id: str, approve: bool, reason: str | None = None):
    approval = {"type": "approval", "approval_request_id": request_id, "approve": approve}
    if reason:
        approval["reason"] = reason
    return http.post(f"/v1/agents/{agent_id}/messages", json={"messages": [approval]})


def _human(http, agent_id: str) -> str:
    return http.get(f"/v1/agents/{agent_id}/core-memory/blocks/human").json()["value"]


def test_a_call_waits_and_is_approved(http_a):
    agent_id = _careful(http_a)
    asked = _ask(http_a, agent_id)
    assert asked["stop_reason"]["stop_reason"] == "requires_approval"
    kinds = [m["message_type"] for m in asked["messages"]]
    assert kinds == ["reasoning_message", "approval_request_message"]
    request = asked["messages"][1]
    assert request["tool_call"]["name"] == "core_memory_append"
    assert request["id"] == asked["messages"][0]["id"]  # Letta's approval_request_id
    assert "figs" not in _human(http_a, agent_id)

    listed = http_a.get(f"/v1/agents/{agent_id}/messages", params={"order": "asc"}).json()
    assert listed[-1]["message_type"] == "approval_request_message"

    done = _answer(http_a, agent_id, request["id"], True)
    assert done.status_code == 200, done.text
    messages = done.json()["messages"]
    assert messages[0]["message_type"] == "tool_return_message"
    assert messages[0]["status"] == "success"
    assert messages[0]["tool_call_id"] == request["tool_call"]["tool_call_id"]
    assert messages[-1]["message_type"] == "assistant_message"
    assert done.json()["stop_reason"]["stop_reason"] == "end_turn"
    assert "figs" in _human(http_a, agent_id)

    after = http_a.get(
        f"/v1/agents/{agent_id}/messages", params={"after": request["id"], "order": "asc"}
    ).json()
    assert [m["message_type"] for m in after[:2]] == [
        "approval_response_message",
        "tool_return_message",
    ]
    assert after[0]["approve"] is True and after[0]["approval_request_id"] == request["id"]
    # The request still shows as one once answered.
    again = http_a.get(f"/v1/agents/{agent_id}/messages", params={"order": "asc"}).json()
    assert "approval_request_message" in [m["message_type"] for m in again]


def test_a_denied_call_is_a_failed_result_with_the_reason(http_a):
    agent_id = _careful(http_a)
    request = _ask(http_a, agent_id)["messages"][1]
    done = _answer(http_a, agent_id, request["id"], False, "figs are private")
    assert done.status_code == 200, done.text
    returned = done.json()["messages"][0]
    assert returned["status"] == "error"
    assert returned["tool_return"] == (
        "Error: request to call tool denied. User reason: figs are private"
    )
    assert "figs are private" in done.json()["messages"][-1]["content"]  # the model saw it
    assert "figs" not in _human(http_a, agent_id)


def test_what_does_not_fit_the_waiting_call_is_a_400(http_a):
    agent_id = _careful(http_a)
    nothing = _answer(http_a, agent_id, "message-nope", True)
    assert nothing.status_code == 400 and "No tool call" in nothing.json()["detail"]
    request = _ask(http_a, agent_id)["messages"][1]
    second = http_a.post(f"/v1/agents/{agent_id}/messages", json={"input": "hello?"})
    assert second.status_code == 400
    assert "approve or deny" in second.json()["detail"] and request["id"] in second.json()["detail"]
    wrong = _answer(http_a, agent_id, "message-nope", True)
    assert wrong.status_code == 400 and "Invalid approval request ID" in wrong.json()["detail"]
    streamed = http_a.post(f"/v1/agents/{agent_id}/messages/stream", json={"input": "hello?"})
    assert streamed.status_code == 400
    queued = http_a.post(f"/v1/agents/{agent_id}/messages/async", json={"input": "hello?"})
    assert queued.status_code == 400
    mixed = {"messages": [{"type": "approval", "approve": True, "approval_request_id": "x"}]}
    mixed["messages"].append({"role": "user", "content": "and this"})
    refused = http_a.post(f"/v1/agents/{agent_id}/messages", json=mixed)
    assert refused.status_code == 422 and "alone" in refused.text  # invalid, as FastAPI says
    # Still waiting: answered by the call's id, as 1.x's `approvals` names it.
    by_call = {
        "type": "approval",
        "approvals": [
            {
                "type": "approval",
                "tool_call_id": request["tool_call"]["tool_call_id"],
                "approve": True,
            }
        ],
    }
    done = http_a.post(f"/v1/agents/{agent_id}/messages", json={"messages": [by_call]})
    assert done.status_code == 200, done.text


def _events(response) -> list[dict]:
    return [
        json.loads(line[6:])
        for line in response.text.splitlines()
        if line.startswith("data: ") and line[6:].startswith("{")
    ]


def test_streamed_request_and_answer(http_a):
    agent_id = _careful(http_a)
    streamed = http_a.post(
        f"/v1/agents/{agent_id}/messages/stream", json={"input": "remember figs"}
    )
    chunks = _events(streamed)
    kinds = [c["message_type"] for c in chunks]
    assert "approval_request_message" in kinds
    stop = next(c for c in chunks if c["message_type"] == "stop_reason")
    assert stop["stop_reason"] == "requires_approval"
    request = next(c for c in chunks if c["message_type"] == "approval_request_message")
    approval = {"type": "approval", "approval_request_id": request["id"], "approve": True}
    answered = http_a.post(f"/v1/agents/{agent_id}/messages/stream", json={"messages": [approval]})
    kinds = [c["message_type"] for c in _events(answered)]
    assert kinds[0] == "tool_return_message" and "assistant_message" in kinds
    assert "figs" in _human(http_a, agent_id)


def _finished(http, run_id: str) -> dict:
    for _ in range(200):
        run = http.get(f"/v1/runs/{run_id}").json()
        if run["status"] not in ("created", "running"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish")


def test_async_request_and_answer(http_a):
    agent_id = _careful(http_a)
    run = http_a.post(f"/v1/agents/{agent_id}/messages/async", json={"input": "remember figs"})
    asked = _finished(http_a, run.json()["id"])
    assert asked["status"] == "completed" and asked["stop_reason"] == "requires_approval"
    listed = http_a.get(f"/v1/agents/{agent_id}/messages", params={"order": "asc"}).json()
    request = listed[-1]
    assert request["message_type"] == "approval_request_message"
    approval = {"type": "approval", "approval_request_id": request["id"], "approve": False}
    run = http_a.post(f"/v1/agents/{agent_id}/messages/async", json={"messages": [approval]})
    assert run.status_code == 200, run.text
    done = _finished(http_a, run.json()["id"])
    assert done["status"] == "completed" and done["stop_reason"] == "end_turn"
    steps = http_a.get(f"/v1/runs/{asked['id']}/steps").json()
    assert steps[-1]["stop_reason"] == "requires_approval"


def test_the_waiting_call_survives_a_server_restart(tmp_path):
    settings = ServerSettings(database=tmp_path / "memgpt.db", model=POLICY, embedding="hash")
    first = create_app(settings)
    key = org_key(first.state.accounts, "a")
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(first, base_url="http://127.0.0.1", headers=headers) as http:
        agent_id = _careful(http)
        request = _ask(http, agent_id)["messages"][1]
    again = create_app(settings)
    with TestClient(again, base_url="http://127.0.0.1", headers=headers) as http:
        refused = http.post(f"/v1/agents/{agent_id}/messages", json={"input": "hello?"})
        assert refused.status_code == 400
        done = _answer(http, agent_id, request["id"], True)
        assert done.status_code == 200, done.text
        assert "figs" in _human(http, agent_id)


def test_the_per_agent_switch_says_what_it_needs(http_a):
    agent_id = _careful(http_a)
    path = f"/v1/agents/{agent_id}/tools/approval"
    unsaid = http_a.patch(f"{path}/core_memory_append")
    assert unsaid.status_code == 400 and "`requires_approval`" in unsaid.json()["detail"]
    missing = http_a.patch(f"{path}/no_such_tool", json={"requires_approval": True})
    assert missing.status_code == 400 and "'no_such_tool'" in missing.json()["detail"]
    by_query = http_a.patch(f"{path}/core_memory_append", params={"requires_approval": False})
    assert by_query.status_code == 200 and by_query.json()["tool_rules"] == []


def test_a_tool_that_requires_approval_by_default(server, http_a):
    """Agents a tool is attached to (at create or later) get a requires_approval rule for
    it. The tool is saved directly: making its schema needs the sandbox."""
    org = server.app.state.accounts.authenticate(server.key_a).organization_id
    name = f"wire_money_{uuid.uuid4().hex[:6]}"
    tool = UserTool(
        organization_id=org,
        name=name,
        source_code=f"def {name}(amount: int) -> str:\n    return 'sent'\n",
        json_schema={"name": name, "description": "Send money.", "parameters": {}},
        default_requires_approval=True,
    )
    server.app.state.accounts.save_tool(tool)
    assert http_a.get(f"/v1/tools/{tool.id}").json()["default_requires_approval"] is True
    created = http_a.post("/v1/agents/", json={"name": f"payer-{name}", "tools": [name]}).json()
    assert {"type": "requires_approval", "tool_name": name} in created["tool_rules"]
    later = http_a.post("/v1/agents/", json={"name": f"later-{name}"}).json()
    assert later["tool_rules"] == []
    attached = http_a.patch(f"/v1/agents/{later['id']}/tools/attach/{tool.id}").json()
    assert attached["tool_rules"] == [{"type": "requires_approval", "tool_name": name}]
    off = http_a.patch(f"/v1/tools/{tool.id}", json={"default_requires_approval": False})
    assert off.status_code == 200 and off.json()["default_requires_approval"] is False
