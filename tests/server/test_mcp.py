"""memgpt as an MCP server, driven by the official `mcp` SDK's client: over streamable HTTP
at /mcp on the test server (with a key, without one in local mode, a wrong key refused),
and over stdio against `memgpt mcp serve` started as a subprocess."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from memgpt.server.app import create_app
from memgpt.server.settings import ServerSettings
from tests.server.conftest import POLICY

ROOT = Path(__file__).resolve().parents[2]


def _call(client: Client, tool: str, **arguments: Any):
    async def go():
        result = await client.call_tool(tool, arguments)
        assert not result.is_error, result.content
        return result

    return go()


def _data(result) -> Any:
    """A tool's structured answer (lists come wrapped as {"result": [...]})."""
    data = result.structured_content
    return data["result"] if set(data) == {"result"} else data


async def _exercise(client: Client, agent: str) -> None:
    """The whole tour, through any transport: every tool once, checked by its effect."""
    names = {t.name for t in (await client.list_tools()).tools}
    assert names == {
        "list_agents",
        "send_message",
        "read_memory_blocks",
        "edit_memory_block",
        "search_conversation",
        "search_archival_memory",
        "insert_archival_memory",
    }
    listed = _data(await _call(client, "list_agents"))
    assert agent in [a["id"] for a in listed]
    assert {"persona", "human"} <= set(next(a for a in listed if a["id"] == agent)["blocks"])

    sent = _data(await _call(client, "send_message", agent=agent, message="hello kestrel"))
    assert sent["reply"] == "echo: hello kestrel" and sent["stop_reason"] == "end_turn"

    edited = _data(
        await _call(client, "edit_memory_block", agent=agent, label="human", value="Ana")
    )
    assert edited["value"] == "Ana"
    blocks = _data(await _call(client, "read_memory_blocks", agent=agent))
    assert next(b for b in blocks if b["label"] == "human")["value"] == "Ana"

    found = (await _call(client, "search_conversation", agent=agent, query="kestrel")).content
    assert "hello kestrel" in found[0].text

    saved = _data(await _call(client, "insert_archival_memory", agent=agent, text="Ana keeps bees"))
    assert saved["text"] == "Ana keeps bees"
    hits = _data(await _call(client, "search_archival_memory", agent=agent, query="bees"))
    assert [h["content"] for h in hits["results"]] == ["Ana keeps bees"]


def _http_client(url: str, key: str | None) -> Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    http = create_mcp_http_client(headers=headers)
    return Client(streamable_http_client(f"{url}/mcp", http_client=http))


def test_an_mcp_client_uses_an_agent_over_http_with_a_key(server, http_a, request):
    agent = http_a.post("/v1/agents/", json={"name": request.node.name}).json()["id"]

    async def go():
        async with _http_client(server.url, server.key_a) as client:
            await _exercise(client, agent)

    asyncio.run(go())
    listed = http_a.get(f"/v1/agents/{agent}/messages").json()
    assert "hello kestrel" in [m.get("content") for m in listed]


def test_mcp_over_http_sees_only_the_callers_organization(server, http_a, request):
    agent = http_a.post("/v1/agents/", json={"name": request.node.name}).json()["id"]

    async def go():
        async with _http_client(server.url, server.key_b) as client:
            listed = _data(await _call(client, "list_agents"))
            assert agent not in [a["id"] for a in listed]
            other = await client.call_tool("read_memory_blocks", {"agent": agent})
            assert other.is_error and f"no agent {agent!r}" in other.content[0].text

    asyncio.run(go())


def test_mcp_tools_refuse_bad_arguments_with_a_reason(server, http_a, request):
    agent = http_a.post("/v1/agents/", json={"name": request.node.name}).json()["id"]
    refusals = {
        "search_archival_memory": ({"query": "x", "top_k": 0}, "top_k"),
        "search_conversation": ({"query": "x", "page": -1}, "page must be 0 or more"),
        "edit_memory_block": ({"label": "nope", "value": "x"}, "no block 'nope'"),
    }

    async def go():
        async with _http_client(server.url, server.key_a) as client:
            for tool, (arguments, says) in refusals.items():
                result = await client.call_tool(tool, {"agent": agent, **arguments})
                assert result.is_error and says in result.content[0].text, result.content

    asyncio.run(go())


def test_mcp_over_http_refuses_a_wrong_key_before_reading_the_body(server):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    for headers in ({"Authorization": "Bearer not-a-key"}, {"X-API-Key": "nope"}):
        refused = httpx.post(f"{server.url}/mcp", json=body, headers=headers)
        assert refused.status_code == 401 and "not valid" in refused.json()["detail"]

    async def go():
        async with _http_client(server.url, "not-a-key") as client:
            await client.list_tools()

    with pytest.raises(Exception):  # noqa: B017 - the SDK's error type for an HTTP 401 varies
        asyncio.run(go())


def test_mcp_over_http_without_a_key_is_the_local_user(server):
    local = httpx.post(
        f"{server.url}/v1/agents/", json={"name": "mcp-local"}, headers={"Host": "127.0.0.1"}
    ).json()["id"]

    async def go():
        async with _http_client(server.url, None) as client:
            await _exercise(client, local)

    asyncio.run(go())


def test_mcp_without_a_key_keeps_the_local_modes_host_and_origin_checks(server):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    rebound = httpx.post(f"{server.url}/mcp", json=body, headers={"Host": "evil.example"})
    assert rebound.status_code == 403 and "loopback Host" in rebound.json()["detail"]
    foreign = httpx.post(f"{server.url}/mcp", json=body, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "own page" in foreign.json()["detail"]


def test_mcp_needs_a_key_when_the_server_does(tmp_path):
    from fastapi.testclient import TestClient

    settings = ServerSettings(database=tmp_path / "m.db", model=POLICY, embedding="hash")
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as http:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        refused = http.post("/mcp", json=body)
        assert refused.status_code == 401 and "API key is required" in refused.json()["detail"]


@pytest.fixture
def local_agent(tmp_path):
    """A database holding one agent of the local user, as `memgpt server --no-auth` made it."""
    db = tmp_path / "memgpt.db"
    settings = ServerSettings(database=db, allow_anonymous=True, model=POLICY, embedding="hash")
    from fastapi.testclient import TestClient

    with TestClient(create_app(settings), base_url="http://127.0.0.1") as http:
        agent = http.post("/v1/agents/", json={"name": "stdio"}).json()["id"]
    return db, agent


def _stdio(db: Path, **env: str) -> Client:
    return Client(
        StdioServerParameters(
            command=sys.executable,
            args=["-m", "memgpt.cli", "mcp", "serve", "--database", str(db)],
            # The agent's scripted model lives in the tests package, found from the root.
            env={
                "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
                "MEMGPT_HOME": os.environ["MEMGPT_HOME"],
                **env,
            },
            cwd=ROOT,
        )
    )


def test_an_mcp_client_uses_an_agent_over_stdio(local_agent):
    db, agent = local_agent

    async def go():
        async with _stdio(db) as client:
            await _exercise(client, agent)
            by_name = _data(await _call(client, "read_memory_blocks", agent="stdio"))
            assert "Ana" in json.dumps(by_name)

    asyncio.run(go())


def test_mcp_serve_with_a_wrong_key_says_so(local_agent):
    db, _agent = local_agent
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "MEMGPT_API_KEY": "not-a-key"}
    done = subprocess.run(
        [sys.executable, "-m", "memgpt.cli", "mcp", "serve", "--database", str(db)],
        env=env,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "holds no valid API key" in done.stderr


def test_the_servers_logging_is_left_as_it_was(tmp_path):
    # In a fresh interpreter: pytest's own handlers on the root logger would hide a change.
    code = (
        "import logging, sys; from memgpt.server.app import create_app; "
        "from memgpt.server.settings import ServerSettings; "
        f"create_app(ServerSettings(database=sys.argv[1], model={POLICY!r}, embedding='hash')); "
        "root = logging.getLogger(); print(len(root.handlers), root.level)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "m.db")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.split() == ["0", str(logging.WARNING)], done.stderr
