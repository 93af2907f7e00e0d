"""Auth and isolation: user B (another organization) gets 404 on every route that names
user A's agent, blocks, passages, messages, tools, sources or files, exactly as for ids
that do not exist; and A's things are unchanged afterwards."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi.testclient import TestClient

from memgpt.schemas import utcnow
from memgpt.server.app import create_app
from memgpt.server.settings import ServerConfigError, ServerSettings
from memgpt.store.mcp_servers import McpServer
from tests.server.conftest import POLICY

SOURCE = 'def secret_tool(sides: int) -> str:\n    """Roll.\n\n    Args:\n        sides: faces\n    """\n    return "a"\n'


@pytest.fixture(scope="module")
def owned(server):
    """A's agent, passage and tool, and B's own agent."""
    a = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.key_a}"})
    b = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.key_b}"})
    agent = a.post(
        "/v1/agents/",
        json={"name": "private", "memory_blocks": [{"label": "human", "value": "A's secret"}]},
    ).json()
    passage = a.post(
        f"/v1/agents/{agent['id']}/archival-memory", json={"text": "A's passage"}
    ).json()[0]
    tool = a.post("/v1/tools/", json={"source_code": SOURCE}).json()
    a.patch(f"/v1/agents/{agent['id']}/tools/attach/{tool['id']}").raise_for_status()
    a.post(
        f"/v1/agents/{agent['id']}/messages", json={"messages": [{"role": "user", "content": "hi"}]}
    )
    run = a.get("/v1/runs/", params={"agent_id": agent["id"]}).json()[0]  # the message's
    step = a.get(f"/v1/runs/{run['id']}/steps").json()[0]
    b_agent = b.post("/v1/agents/", json={"name": "b-agent"}).json()
    source = a.post("/v1/sources/", json={"name": "a-docs"}).json()
    file = a.post(
        f"/v1/sources/{source['id']}/upload",
        files={"file": ("a.txt", b"A's private document.", "text/plain")},
    ).json()
    deadline = time.monotonic() + 20
    while file["processing_status"] != "completed":
        assert time.monotonic() < deadline, file
        time.sleep(0.05)
        file = a.get(f"/v1/sources/{source['id']}/files/{file['id']}").json()
    a.patch(f"/v1/agents/{agent['id']}/sources/attach/{source['id']}").raise_for_status()
    # An MCP server with its tools already listed (no process is started for it here).
    org = server.app.state.accounts.authenticate(server.key_a).organization_id
    shout = {"name": "shout", "description": "Capitals.", "inputSchema": {"type": "object"}}
    mcp = McpServer(
        organization_id=org,
        name="a-mcp",
        kind="stdio",
        command="x",
        tools=[shout],
        tools_at=utcnow(),
    )
    server.app.state.service.mcp_servers.save(mcp)
    mcp_tool = a.get(f"/v1/mcp-servers/{mcp.id}/tools").json()[0]
    yield {
        "a": a,
        "b": b,
        "agent": agent["id"],
        "passage": passage["id"],
        "tool": tool["id"],
        "b_agent": b_agent["id"],
        "block": next(b["id"] for b in agent["blocks"] if b["label"] == "human"),
        "source": source["id"],
        "file": file["id"],
        "mcp": mcp.id,
        "mcp_tool": mcp_tool["id"],
        "run": run["id"],
        "step": step["id"],
    }
    a.close()
    b.close()


MESSAGE = {"messages": [{"role": "user", "content": "leak?"}]}

# Sources answer under both SDK lines' names for them.
SOURCE_ROUTES = [
    (method, path.format(kind=kind), body)
    for kind in ("sources", "folders")
    for method, path, body in [
        ("GET", "/v1/{kind}/{{source}}", None),
        ("GET", "/v1/{kind}/name/a-docs", None),
        ("DELETE", "/v1/{kind}/{{source}}", None),
        ("POST", "/v1/{kind}/{{source}}/upload", None),
        ("GET", "/v1/{kind}/{{source}}/files", None),
        ("GET", "/v1/{kind}/{{source}}/files/{{file}}", None),
        ("GET", "/v1/agents/{{agent}}/{kind}", None),
        ("PATCH", "/v1/agents/{{agent}}/{kind}/attach/{{source}}", None),
        ("PATCH", "/v1/agents/{{agent}}/{kind}/detach/{{source}}", None),
        # B's own agent, A's source: the source is not B's to attach.
        ("PATCH", "/v1/agents/{{b_agent}}/{kind}/attach/{{source}}", None),
    ]
]

# (method, path, body): every route that names a resource; {agent}, {passage}, {tool} are A's.
MATRIX = [
    ("GET", "/v1/agents/{agent}", None),
    ("PATCH", "/v1/agents/{agent}", {"name": "pwned"}),
    ("DELETE", "/v1/agents/{agent}", None),
    ("GET", "/v1/agents/{agent}/export", None),
    ("GET", "/v1/agents/{agent}/usage", None),
    ("GET", "/v1/agents/{agent}/core-memory", None),
    ("GET", "/v1/agents/{agent}/core-memory/blocks", None),
    ("GET", "/v1/agents/{agent}/core-memory/blocks/human", None),
    ("PATCH", "/v1/agents/{agent}/core-memory/blocks/human", {"value": "pwned"}),
    ("POST", "/v1/agents/{agent}/archival-memory", {"text": "pwned"}),
    ("GET", "/v1/agents/{agent}/archival-memory", None),
    ("GET", "/v1/agents/{agent}/archival-memory/search?query=passage", None),
    ("DELETE", "/v1/agents/{agent}/archival-memory/{passage}", None),
    ("GET", "/v1/agents/{agent}/messages", None),
    ("POST", "/v1/agents/{agent}/messages", MESSAGE),
    ("POST", "/v1/agents/{agent}/messages", {**MESSAGE, "streaming": True}),
    ("POST", "/v1/agents/{agent}/messages/stream", MESSAGE),
    ("PATCH", "/v1/agents/{agent}/reset-messages", {}),
    (
        "PATCH",
        "/v1/agents/{agent}/messages/message-1",
        {"message_type": "assistant_message", "content": "pwned"},
    ),
    ("DELETE", "/v1/agents/{agent}/messages/message-1", None),
    ("GET", "/v1/agents/{agent}/tools", None),
    ("PATCH", "/v1/agents/{agent}/tools/attach/{tool}", None),
    ("PATCH", "/v1/agents/{agent}/tools/detach/{tool}", None),
    ("PATCH", "/v1/agents/{agent}/tools/approval/core_memory_append", {"requires_approval": True}),
    ("POST", "/v1/agents/{agent}/tools/secret_tool/run", {"args": {"sides": 1}}),
    ("GET", "/v1/tools/{tool}", None),
    ("PATCH", "/v1/tools/{tool}", {"description": "pwned"}),
    ("DELETE", "/v1/tools/{tool}", None),
    # B's own agent, A's tool: the tool is not B's to attach.
    ("PATCH", "/v1/agents/{b_agent}/tools/attach/{tool}", None),
    (
        "POST",
        "/v1/chat/completions",
        {"model": "{agent}", "messages": [{"role": "user", "content": "x"}]},
    ),
    (
        "POST",
        "/v1/chat/completions",
        {"model": "private", "messages": [{"role": "user", "content": "x"}]},
    ),
    *SOURCE_ROUTES,
    ("GET", "/v1/blocks/{block}", None),
    ("PATCH", "/v1/blocks/{block}", {"value": "pwned"}),
    ("DELETE", "/v1/blocks/{block}", None),
    ("GET", "/v1/blocks/{block}/agents", None),
    ("PATCH", "/v1/agents/{agent}/core-memory/blocks/attach/{block}", None),
    ("PATCH", "/v1/agents/{agent}/core-memory/blocks/detach/{block}", None),
    # B's own agent, A's block: the block is not B's to attach.
    ("PATCH", "/v1/agents/{b_agent}/core-memory/blocks/attach/{block}", None),
    # MCP servers (routes/mcp_servers.py), by id and, in 0.1.x's routes, by name
    ("GET", "/v1/mcp-servers/{mcp}", None),
    ("DELETE", "/v1/mcp-servers/{mcp}", None),
    ("GET", "/v1/mcp-servers/{mcp}/tools", None),
    ("GET", "/v1/mcp-servers/{mcp}/tools/{mcp_tool}", None),
    ("PATCH", "/v1/mcp-servers/{mcp}/refresh", None),
    ("DELETE", "/v1/tools/mcp/servers/a-mcp", None),
    ("GET", "/v1/tools/mcp/servers/a-mcp/tools", None),
    ("POST", "/v1/tools/mcp/servers/a-mcp/shout", None),
    ("PATCH", "/v1/agents/{b_agent}/tools/attach/{mcp_tool}", None),
    # runs and their steps (routes/runs.py)
    ("GET", "/v1/runs/{run}", None),
    ("GET", "/v1/runs/{run}/messages", None),
    ("GET", "/v1/runs/{run}/steps", None),
    ("GET", "/v1/steps/{step}", None),
    ("POST", "/v1/agents/{agent}/messages/async", MESSAGE),
    ("POST", "/v1/agents/{agent}/messages/cancel", {"run_ids": ["{run}"]}),
    # the web UI's routes (routes/ui.py)
    ("GET", "/v1/agents/{agent}/context", None),
    ("GET", "/v1/agents/{agent}/core-memory/blocks/human/history", None),
    ("GET", "/v1/agents/{agent}/core-memory/shared", None),
    ("GET", "/v1/agents/{agent}/recall?query=hello", None),
    ("GET", "/v1/agents/{agent}/archival-memory/hybrid-search?query=passage", None),
]


def _fill(value, ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


def test_the_matrix_covers_every_route_that_names_a_resource(server):
    paths = server.app.openapi()["paths"]
    named = {(method.upper(), path) for path, ops in paths.items() if "{" in path for method in ops}
    covered = set()
    for method, path, _ in MATRIX:
        template = path.split("?")[0]
        for spec in paths:
            parts, spec_parts = template.split("/"), spec.split("/")
            if len(parts) == len(spec_parts) and all(
                s.startswith("{") or s == p for s, p in zip(spec_parts, parts, strict=True)
            ):
                covered.add((method, spec))
    assert named <= covered, named - covered


@pytest.mark.parametrize(("method", "path", "body"), MATRIX, ids=[f"{m} {p}" for m, p, _ in MATRIX])
def test_other_organization_gets_404(owned, method, path, body):
    kinds = ("agent", "passage", "tool", "b_agent", "source", "file", "block", "mcp", "mcp_tool")
    kinds += ("run", "step")
    ids = {k: owned[k] for k in kinds}
    response = owned["b"].request(method, _fill(path, ids), json=_fill(body, ids))
    assert response.status_code == 404, response.text
    assert "detail" in response.json()
    # The same request for an id that does not exist looks exactly alike.
    by_name = "a-docs" in path or "a-mcp" in path
    if "{b_agent}" not in path and "private" not in str(body) and not by_name:
        missing = {k: v[:-4] + "0000" for k, v in ids.items()}
        absent = owned["a"].request(method, _fill(path, missing), json=_fill(body, missing))
        assert absent.status_code == 404


def test_other_organization_lists_none_of_it(owned):
    b = owned["b"]
    assert owned["agent"] not in [a["id"] for a in b.get("/v1/agents/").json()]
    assert owned["tool"] not in [t["id"] for t in b.get("/v1/tools/").json()]
    for kind in ("sources", "folders"):
        assert owned["source"] not in [s["id"] for s in b.get(f"/v1/{kind}/").json()]
        assert b.get(f"/v1/{kind}/count").json() == 0
    upload = b.post(
        f"/v1/sources/{owned['source']}/upload", files={"file": ("x.txt", b"pwned", "text/plain")}
    )
    assert upload.status_code == 404


def test_owner_still_sees_everything_unchanged(owned):
    a, agent = owned["a"], owned["agent"]
    assert a.get(f"/v1/agents/{agent}").json()["name"] == "private"
    assert a.get(f"/v1/agents/{agent}/core-memory/blocks/human").json()["value"] == "A's secret"
    assert [p["text"] for p in a.get(f"/v1/agents/{agent}/archival-memory").json()] == [
        "A's passage"
    ]
    users = [
        m["content"]
        for m in a.get(f"/v1/agents/{agent}/messages").json()
        if m["message_type"] == "user_message"
    ]
    assert users == ["hi"]
    assert a.get(f"/v1/tools/{owned['tool']}").json()["description"] == "Roll."
    source = owned["source"]
    assert a.get(f"/v1/sources/{source}").json()["name"] == "a-docs"
    assert [f["id"] for f in a.get(f"/v1/sources/{source}/files").json()] == [owned["file"]]
    assert [s["id"] for s in a.get(f"/v1/agents/{agent}/sources").json()] == [source]


def test_keys_are_required_and_checked(server, tmp_path):
    bad = httpx.get(f"{server.url}/v1/agents/", headers={"Authorization": "Bearer sk-memgpt-x.y"})
    assert bad.status_code == 401 and "not valid" in bad.json()["detail"]
    app = create_app(ServerSettings(database=tmp_path / "db", model=POLICY, embedding="hash"))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        response = client.get("/v1/agents/")
        assert response.status_code == 401 and "API key is required" in response.json()["detail"]
        assert client.get("/v1/health/").status_code == 200  # health needs no key


def test_keys_are_stored_hashed(server):
    key = server.key_a
    rows = server.app.state.accounts.store._execute("SELECT * FROM api_keys").fetchall()
    stored = " ".join(str(v) for row in rows for v in tuple(row))
    assert key.split(".", 1)[1] not in stored


def test_keyless_access_only_on_loopback():
    with pytest.raises(ServerConfigError, match="loopback"):
        ServerSettings(host="0.0.0.0", allow_anonymous=True).check()
    ServerSettings(host="::1", allow_anonymous=True).check()


def test_keyless_caller_is_its_own_organization(owned, server):
    response = httpx.get(f"{server.url}/v1/agents/{owned['agent']}")
    assert response.status_code == 404
