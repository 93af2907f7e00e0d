"""MCP servers over the API, with real MCP servers the tests start (tests/fakes/mcp_tools.py):
the official SDK registers one, lists and attaches its tools, and an agent with a scripted
model calls them; a failing server gives a failed result and the agent goes on; what the
operator did not allow is refused in one sentence. Runs with both SDK lines (1.x here,
0.1.x with .venv-sdk01's Python) and on both store backends."""

from __future__ import annotations

import json
import shlex
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from memgpt.server.app import create_app
from memgpt.server.settings import ServerSettings
from tests.fakes.mcp_tools import STDIO_LINE, TOKEN
from tests.fakes.mcp_tools import http_server as fake_http_server
from tests.server.conftest import POLICY
from tests.server.live import free_port, in_thread, org_key
from tests.server.sdk import SDK, APIError
from tests.store.backends import BACKENDS, store_opener


@dataclass
class McpLive:
    url: str
    mcp_url: str
    app: Any

    def new_key(self) -> str:
        """A key of a new organization: each test's servers are its own."""
        return org_key(self.app.state.accounts, uuid.uuid4().hex[:6])


@pytest.fixture(scope="module", params=BACKENDS)
def live(request, tmp_path_factory) -> Iterator[McpLive]:
    """A memgpt server whose operator allowed the fake's stdio command line and its URL,
    with a short cap on a call so that a hang fails quickly."""
    with fake_http_server() as mcp_url, pytest.MonkeyPatch.context() as env:
        env.setenv("MEMGPT_MCP_STDIO_COMMANDS", shlex.join(STDIO_LINE))
        env.setenv("MEMGPT_MCP_URLS", mcp_url)
        env.setenv("MEMGPT_MCP_TIMEOUT_S", "20")  # a loaded machine starts Python slowly
        db = tmp_path_factory.mktemp("mcp") / "memgpt.db"
        settings = ServerSettings(port=free_port(), database=db, model=POLICY, embedding="hash")
        store = None if request.param == "sqlite" else store_opener(request.param, db.parent)()
        app = create_app(settings, store=store)
        with in_thread(app, settings.port) as url:
            yield McpLive(url, mcp_url, app)


@pytest.fixture
def key(live) -> str:
    return live.new_key()


@pytest.fixture
def http(live, key) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=live.url, headers=headers, timeout=60) as client:
        yield client


def _ask(http: httpx.Client, agent: str, text: str) -> list[dict]:
    sent = http.post(
        f"/v1/agents/{agent}/messages", json={"messages": [{"role": "user", "content": text}]}
    )
    assert sent.status_code == 200, sent.text
    return sent.json()["messages"]


def _returns(messages: list[dict]) -> list[tuple[str, str]]:
    return [
        (m["status"], m["tool_return"])
        for m in messages
        if m["message_type"] == "tool_return_message"
    ]


def _reply(messages: list[dict]) -> str:
    return [m["content"] for m in messages if m["message_type"] == "assistant_message"][-1]


@pytest.mark.parametrize("transport", ["stdio", "streamable_http"])
def test_the_sdk_registers_a_server_lists_and_attaches_its_tools(live, key, http, transport):
    sdk = SDK(live.url, key)
    config = {
        "stdio": {"mcp_server_type": "stdio", "command": STDIO_LINE[0], "args": STDIO_LINE[1:]},
        "streamable_http": {
            "mcp_server_type": "streamable_http",
            "server_url": live.mcp_url,
            "auth_header": "Authorization",
            "auth_token": f"Bearer {TOKEN}",
        },
    }[transport]
    sdk.add_mcp_server("fake", config)
    assert sdk.mcp_server_names() == ["fake"]
    tools = sdk.mcp_tool_ids("fake")
    assert set(tools) == {"add", "shout", "refuse", "hang", "crash"}

    agent = sdk.create_agent(f"mcp-{uuid.uuid4().hex[:6]}").id
    sdk.attach_tool(agent, tools["add"])
    sdk.attach_tool(agent, tools["shout"])
    assert {"add", "shout"} <= set(sdk.agent_tool_names(agent))

    answered = _ask(http, agent, 'mcp add {"a": 2, "b": 3}')
    assert _returns(answered) == [("success", "2 + 3 = 5")]
    assert _reply(answered) == "done: 2 + 3 = 5"
    assert _returns(_ask(http, agent, 'mcp shout {"text": "bees"}')) == [("success", "BEES")]
    listed = http.get(f"/v1/agents/{agent}/tools").json()
    mcp_tools = [t for t in listed if t["tool_type"] == "external_mcp"]
    assert {t["name"] for t in mcp_tools} == {"add", "shout"}


def test_a_failing_server_gives_a_failed_result_and_the_agent_goes_on(http):
    name = f"flaky-{uuid.uuid4().hex[:6]}"
    body = {"server_name": name, "config": {"command": STDIO_LINE[0], "args": STDIO_LINE[1:]}}
    assert http.post("/v1/mcp-servers/", json=body).status_code == 200
    server = http.get("/v1/mcp-servers/").json()
    server_id = next(s["id"] for s in server if s["server_name"] == name)
    tools = {t["name"]: t["id"] for t in http.get(f"/v1/mcp-servers/{server_id}/tools").json()}
    agent = http.post("/v1/agents/", json={"name": name}).json()["id"]
    for tool in ("refuse", "hang", "crash", "add"):
        attached = http.patch(f"/v1/agents/{agent}/tools/attach/{tools[tool]}")
        assert attached.status_code == 200, attached.text

    cases = {
        'mcp refuse {"reason": "no bees"}': "returned an error",
        "mcp hang {}": "did not answer within 20 s",
        "mcp crash {}": f"The MCP server {name!r} failed",
    }
    for command, says in cases.items():
        answered = _ask(http, agent, command)
        [(status, text)] = _returns(answered)
        assert status == "error" and says in text, text
        assert _reply(answered)  # the turn went on to a reply
    assert _returns(_ask(http, agent, 'mcp add {"a": 1, "b": 1}')) == [("success", "1 + 1 = 2")]

    # Removing the server takes its tools off the agent.
    assert http.delete(f"/v1/mcp-servers/{server_id}").status_code == 204
    names = {t["name"] for t in http.get(f"/v1/agents/{agent}/tools").json()}
    assert not names & set(tools)
    assert "hello" in _reply(_ask(http, agent, "hello"))


def test_two_servers_offering_one_tool_name_cannot_both_be_attached(live, key, http):
    sdk = SDK(live.url, key)
    for name in ("twin-1", "twin-2"):
        sdk.add_mcp_server(
            name, {"mcp_server_type": "stdio", "command": STDIO_LINE[0], "args": STDIO_LINE[1:]}
        )
        tool = sdk.mcp_tool_ids(name)["add"]
    agent = http.post("/v1/agents/", json={"name": "twins"}).json()["id"]
    refused = http.patch(f"/v1/agents/{agent}/tools/attach/{tool}")
    assert (
        refused.status_code == 409
        and "'twin-1' and 'twin-2' both offer a tool named 'add'" in refused.text
    )


def test_what_the_operator_did_not_allow_is_refused_in_one_sentence(live, key, http):
    shell = {"server_name": "sh", "config": {"command": "/bin/sh", "args": ["-c", "id"]}}
    refused = http.post("/v1/mcp-servers/", json=shell)
    assert refused.status_code == 400
    assert "not one this server's operator allowed" in refused.json()["detail"]
    elsewhere = {
        "server_name": "elsewhere",
        "type": "streamable_http",
        "server_url": "http://169.254.169.254/mcp",
    }
    refused = http.put("/v1/tools/mcp/servers", json=elsewhere)
    assert refused.status_code == 400 and "[mcp] urls" in refused.json()["detail"]
    env = {"command": STDIO_LINE[0], "args": STDIO_LINE[1:], "env": {"LD_PRELOAD": "x.so"}}
    refused = http.post("/v1/mcp-servers/", json={"server_name": "env", "config": env})
    assert refused.status_code == 400 and "environment variables" in refused.json()["detail"]
    assert "sh" not in SDK(live.url, key).mcp_server_names()
    with pytest.raises(APIError) as raised:
        SDK(live.url, key).add_mcp_server(
            "sh2", {"mcp_server_type": "stdio", "command": "/bin/sh", "args": []}
        )
    assert raised.value.status_code == 400


def test_what_is_not_implemented_answers_501(http):
    patched = http.patch("/v1/mcp-servers/anything", json={"server_name": "x"})
    assert patched.status_code == 501
    ran = http.post("/v1/mcp-servers/x/tools/y/run", json={"args": {}})
    assert ran.status_code == 501
    assert json.loads(ran.text)["detail"].startswith("memgpt does not implement")
