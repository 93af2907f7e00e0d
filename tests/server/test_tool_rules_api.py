"""Tool rules over plain HTTP: what the SDK tests cannot send, and agent files written by
Letta (which carry each rule's prompt text)."""

from __future__ import annotations

import json
import uuid


def _import(http, data) -> object:
    upload = {"file": ("agent.af", json.dumps(data).encode(), "application/json")}
    return http.post("/v1/agents/import", files=upload)


def _ruled_export(http_a, rules: list[dict]) -> dict:
    body = {"name": f"ruled-{uuid.uuid4().hex[:6]}", "tool_rules": rules}
    created = http_a.post("/v1/agents/", json=body)
    assert created.status_code == 200, created.text
    return http_a.get(f"/v1/agents/{created.json()['id']}/export").json()


def test_a_letta_rule_prompt_text_is_read_past_on_import(http_a):
    exported = _ruled_export(http_a, [{"type": "exit_loop", "tool_name": "send_message"}])
    exported["agents"][0]["tool_rules"][0]["prompt_template"] = "<tool_rule>ends</tool_rule>"
    imported = _import(http_a, exported)
    assert imported.status_code == 200, imported.text
    [copy_id] = imported.json()["agent_ids"]
    rules = http_a.get(f"/v1/agents/{copy_id}").json()["tool_rules"]
    assert rules == [{"type": "exit_loop", "tool_name": "send_message"}]


def test_an_agent_file_rule_memgpt_cannot_keep_is_refused(http_a):
    exported = _ruled_export(http_a, [{"type": "run_first", "tool_name": "send_message"}])
    fixed_args = json.loads(json.dumps(exported))
    fixed_args["agents"][0]["tool_rules"][0]["args"] = {"message": "hi"}
    refused = _import(http_a, fixed_args)
    assert refused.status_code == 400
    assert "tool rule memgpt cannot use" in refused.json()["detail"]
    assert "args" in refused.json()["detail"]
    missing = json.loads(json.dumps(exported))
    missing["agents"][0]["tool_rules"][0]["tool_name"] = "nowhere"
    refused = _import(http_a, missing)
    assert refused.status_code == 400 and "'nowhere'" in refused.json()["detail"]


def test_a_rule_field_memgpt_lacks_is_a_400_naming_it(http_a):
    rule = {"type": "exit_loop", "tool_name": "send_message", "args": {"message": "x"}}
    refused = http_a.post("/v1/agents/", json={"name": "x", "tool_rules": [rule]})
    assert refused.status_code == 400
    assert "`tool_rules.0.exit_loop.args`" in refused.json()["detail"]


def test_a_terminal_rule_is_the_stop_reason_on_the_wire(http_a):
    body = {
        "name": f"ruled-{uuid.uuid4().hex[:6]}",
        "tool_rules": [{"type": "exit_loop", "tool_name": "send_message"}],
    }
    agent = http_a.post("/v1/agents/", json=body).json()
    sent = http_a.post(f"/v1/agents/{agent['id']}/messages", json={"input": "hi"}).json()
    assert sent["stop_reason"]["stop_reason"] == "tool_rule"
    plain = http_a.post("/v1/agents/", json={"name": body["name"] + "-plain"}).json()
    sent = http_a.post(f"/v1/agents/{plain['id']}/messages", json={"input": "hi"}).json()
    assert sent["stop_reason"]["stop_reason"] == "end_turn"


def test_a_send_message_the_rules_refuse_is_a_failed_call_not_a_reply(http_a):
    body = {
        "name": f"ruled-{uuid.uuid4().hex[:6]}",
        "tool_rules": [{"type": "run_first", "tool_name": "archival_memory_search"}],
    }
    agent = http_a.post("/v1/agents/", json=body).json()
    sent = http_a.post(f"/v1/agents/{agent['id']}/messages", json={"input": "hi"}).json()
    listed = http_a.get(f"/v1/agents/{agent['id']}/messages").json()
    for shown in (sent["messages"], listed):
        kinds = [m["message_type"] for m in shown]
        assert "assistant_message" not in kinds
        returns = [m for m in shown if m["message_type"] == "tool_return_message"]
        assert returns and all(r["name"] == "send_message" for r in returns)
        assert all(r["status"] == "error" for r in returns)
        assert "do not allow send_message" in returns[0]["tool_return"]
        calls = [m["tool_call"]["name"] for m in shown if m["message_type"] == "tool_call_message"]
        assert calls == ["send_message"] * len(returns)
