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
    unknown = http_a.post(
        "/v1/agents/",
        json={"name": "x", "identity_ids": [], "memory_blocks": [{"label": "h", "x": 1}]},
    )
    no_base_tools = http_a.post("/v1/agents/", json={"name": "x", "include_base_tools": False})
    assert no_base_tools.status_code == 422
    assert unknown.status_code == 400 and unknown.json()["detail"] == (
        "memgpt does not implement `memory_blocks.0.x`, `identity_ids` in this request; remove them "
        "(/openapi.json lists the fields each request takes)."
    )
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


# Bad input the OpenAPI fuzz (memgpt bench reliability fuzz) found answered with a 500, or
# worse: a hybrid-search page deep enough aborted the whole process in the vector index.
DEEP = 20_000_000_000_000_000_000  # past 64 bits: SQLite raised OverflowError
BAD_INPUT = [
    ("POST", "/archival-memory", {"text": ""}, 400, "content is empty"),
    ("GET", "/archival-memory?limit=-1", None, 422, "greater than or equal to 0"),
    ("GET", f"/archival-memory?limit={DEEP}", None, 422, "less than or equal to"),
    ("GET", f"/messages?limit={DEEP}", None, 422, "less than or equal to"),
    ("GET", f"/archival-memory/search?query=x&top_k={DEEP}", None, 422, "less than or equal"),
    ("GET", "/recall?page=-1", None, 422, "greater than or equal to 0"),
    ("GET", f"/recall?page={DEEP}", None, 422, "less than or equal to"),
    ("GET", "/archival-memory/hybrid-search?query=x&page=100000000", None, 422, "less than"),
    ("PATCH", "/core-memory/blocks/human", {"value": "x" * 6000}, 400, "over its limit"),
    ("PATCH", "/core-memory/blocks/human", {"limit": -1}, 422, "greater than 0"),
    ("PATCH", "", {"context_window_limit": -1}, 422, "greater than 0"),
    ("PATCH", "", {"llm_config": {"context_window": 0}}, 422, "greater than 0"),
    ("PATCH", "", {"llm_config": {"handle": 5}}, 422, "valid string"),
    # NUL: PostgreSQL cannot store it, or compare text with it.
    ("PATCH", "", {"name": "a\x00b"}, 422, "NUL"),
    ("POST", "/messages", {"input": "nul\x00byte"}, 422, "NUL"),
    ("POST", "/archival-memory", {"text": "nul\x00byte"}, 422, "NUL"),
    ("GET", "/messages?after=%00", None, 400, "NUL"),
    ("GET", "/recall?query=%00", None, 400, "NUL"),
    ("GET", "%00", None, 400, "NUL"),
    # A caller naming a model file or a scripted policy would have the server open that
    # file or import that module; only the server's own default may be either.
    ("PATCH", "", {"model": "local//etc/passwd"}, 400, "does not let callers choose"),
    ("PATCH", "", {"model": "scripted/this:s"}, 400, "does not let callers choose"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "says"), BAD_INPUT)
def test_bad_input_is_a_4xx_that_says_why(http_a, agent_id, method, path, body, status, says):
    response = http_a.request(method, f"/v1/agents/{agent_id}{path}", json=body)
    assert response.status_code == status, response.text
    assert says in response.text
    assert http_a.get(f"/v1/agents/{agent_id}").json()["name"]  # the agent is unharmed


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/agents/", {"llm_config": {"context_window": "x"}}),
        ("/v1/agents/", {"embedding_config": {"handle": 5}}),
        ("/v1/agents/", {"memory_blocks": [{"label": "human", "limit": 0}]}),
        ("/v1/agents/", {"context_window_limit": 0}),
        ("/v1/sources/", {"name": "s", "embedding_config": {"handle": 3}}),
        ("/v1/sources/", {"name": "nul\x00"}),
        ("/v1/tools/", {"source_code": "def f():\n    '''nul\x00'''\n"}),
        # Nested past the 100 levels a body may have: walking it overflowed the stack.
        ("/v1/tools/run", {"source_code": "def f(): pass", "args": {"a": _nested(150)}}),
    ],
)
def test_bad_bodies_are_422(http_a, path, body):
    response = http_a.post(path, json=body)
    assert response.status_code == 422, response.text


def test_lone_surrogates_in_names_and_text_become_replacement_characters(http_a):
    raw = '{"name": "lone \\ud800", "system": "\\udfff system"}'
    created = http_a.post("/v1/agents/", content=raw, headers={"Content-Type": "application/json"})
    assert created.status_code == 200, created.text
    assert created.json()["name"] == "lone \ufffd"
    assert created.json()["system"] == "\ufffd system"
    raw = '{"text": "passage \\ud800"}'
    passage = http_a.post(
        f"/v1/agents/{created.json()['id']}/archival-memory",
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    assert passage.status_code == 200 and passage.json()[0]["text"] == "passage \ufffd"
