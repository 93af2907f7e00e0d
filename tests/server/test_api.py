"""OpenAPI, error shapes, idempotent message POSTs, and the OpenAI-compatible chat route."""

from __future__ import annotations

import httpx
import openai
import pytest


@pytest.fixture
def agent_id(http_a, request):
    return http_a.post("/v1/agents/", json={"name": request.node.name}).json()["id"]


def _users(http, agent_id) -> list[str]:
    listed = http.get(f"/v1/agents/{agent_id}/messages").json()
    return [m["content"] for m in listed if m["message_type"] == "user_message"]


def test_openapi_is_served(server):
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert "/v1/agents/{agent_id}/messages" in spec["paths"]
    assert "/v1/chat/completions" in spec["paths"]


def test_errors_are_json_with_the_right_status(http_a, agent_id):
    assert http_a.get("/v1/agents/agent-nope").status_code == 404
    missing = http_a.get(f"/v1/agents/{agent_id}/core-memory/blocks/nope")
    assert missing.status_code == 404 and "no block 'nope'" in missing.json()["detail"]
    unimplemented = http_a.get("/v1/groups/")
    assert (
        unimplemented.status_code == 501
        and "does not implement GET /v1/groups/" in unimplemented.json()["detail"]
    )
    assert http_a.post(f"/v1/agents/{agent_id}/messages", json={"messages": "x"}).status_code == 422
    bad_model = http_a.post("/v1/agents/", json={"name": "x", "model": "nowhere/model"})
    assert bad_model.status_code == 400 and "Unknown provider" in bad_model.json()["detail"]
    bad_tool = http_a.post("/v1/tools/", json={"source_code": "def broken(:\n"})
    assert bad_tool.status_code == 400 and "does not parse" in bad_tool.json()["detail"]
    too_big = http_a.post(f"/v1/agents/{agent_id}/messages", json={"input": "word " * 20000})
    assert too_big.status_code == 413


@pytest.mark.parametrize("how", ["header", "otid"])
def test_a_retried_message_post_is_not_a_second_message(http_a, agent_id, how):
    body = {"messages": [{"role": "user", "content": "only once"}]}
    headers = {}
    if how == "header":
        headers["Idempotency-Key"] = "retry-1"
    else:
        body["messages"][0]["otid"] = "otid-1"
    first = http_a.post(f"/v1/agents/{agent_id}/messages", json=body, headers=headers).json()
    again = http_a.post(f"/v1/agents/{agent_id}/messages", json=body, headers=headers).json()
    assert again == first
    streamed = http_a.post(
        f"/v1/agents/{agent_id}/messages", json={**body, "streaming": True}, headers=headers
    ).text
    assert first["messages"][-1]["id"] in streamed
    assert _users(http_a, agent_id) == ["only once"]
    # Without a key, the same text is a new message.
    http_a.post(f"/v1/agents/{agent_id}/messages", json={"input": "only once"})
    assert _users(http_a, agent_id) == ["only once", "only once"]


def test_openai_chat_completions_reach_a_stateful_agent(server, http_a, agent_id, request):
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=server.key_a)
    reply = client.chat.completions.create(
        model=agent_id, messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content == "echo: hi"
    by_name = client.chat.completions.create(
        model=request.node.name,
        messages=[{"role": "user", "content": "old"}, {"role": "user", "content": "second"}],
    )
    assert by_name.choices[0].message.content == "echo: second"
    stream = client.chat.completions.create(
        model=agent_id, messages=[{"role": "user", "content": "streamed words here"}], stream=True
    )
    deltas = [
        c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content
    ]
    assert len(deltas) > 1 and "".join(deltas) == "echo: streamed words here"
    # The agent remembers: every turn is in its history.
    assert _users(http_a, agent_id) == ["hi", "second", "streamed words here"]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="no-such-agent", messages=[{"role": "user", "content": "x"}]
        )
