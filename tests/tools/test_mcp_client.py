"""The MCP client against real MCP servers the tests start (tests/fakes/mcp_tools.py, over
stdio and streamable HTTP): tools listed and called, every failure a McpError in one
sentence, and nothing started or reached that the operator did not allow."""

from __future__ import annotations

import shlex
import time
from collections.abc import Iterator

import pytest

from memgpt.store.mcp_servers import McpServer
from memgpt.tools.mcp import McpError, McpSettings, call_tool, list_tools
from tests.fakes.mcp_tools import STDIO_LINE, TOKEN
from tests.fakes.mcp_tools import http_server as fake_http_server


def stdio_server(org: str = "org-1") -> McpServer:
    return McpServer(
        organization_id=org, name="fake", kind="stdio", command=STDIO_LINE[0], args=STDIO_LINE[1:]
    )


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    with fake_http_server() as url:
        yield url


def http_server(url: str, token: str = TOKEN) -> McpServer:
    return McpServer(
        organization_id="org-1",
        name="fake-http",
        kind="streamable_http",
        url=url,
        headers={"Authorization": f"Bearer {token}"},
    )


ALLOWED = McpSettings(stdio_commands=(shlex.join(STDIO_LINE),), timeout_s=10)


def test_a_stdio_servers_tools_are_listed_and_called():
    tools = list_tools(stdio_server(), ALLOWED)
    assert {t["name"] for t in tools} == {"add", "shout", "refuse", "hang", "crash"}
    add = next(t for t in tools if t["name"] == "add")
    assert add["inputSchema"]["required"] == ["a", "b"]
    assert call_tool(stdio_server(), "add", {"a": 2, "b": 3}, ALLOWED) == "2 + 3 = 5"


def test_a_streamable_http_server_is_called_with_its_headers(http_url):
    allowed = McpSettings(urls=(http_url.removesuffix("/mcp"),), timeout_s=10)
    assert "shout" in {t["name"] for t in list_tools(http_server(http_url), allowed)}
    assert call_tool(http_server(http_url), "shout", {"text": "bees"}, allowed) == "BEES"
    with pytest.raises(McpError, match="'fake-http' failed"):
        list_tools(http_server(http_url, token="wrong"), allowed)


def test_an_sse_server_is_called_with_its_headers():
    with fake_http_server("sse") as url:
        server = http_server(url).model_copy(update={"kind": "sse", "name": "fake-sse"})
        allowed = McpSettings(urls=(url,), timeout_s=10)
        assert call_tool(server, "add", {"a": 1, "b": 2}, allowed) == "1 + 2 = 3"


def test_each_failure_is_one_mcp_error():
    # Starting a Python server takes seconds on a loaded machine: the cap covers it too.
    quick = McpSettings(stdio_commands=ALLOWED.stdio_commands, timeout_s=8)
    with pytest.raises(McpError, match="returned an error: .*refused: no bees"):
        call_tool(stdio_server(), "refuse", {"reason": "no bees"}, ALLOWED)
    started = time.monotonic()
    with pytest.raises(McpError, match="did not answer within 8 s"):
        call_tool(stdio_server(), "hang", {}, quick)
    assert time.monotonic() - started < 30  # the hung server was stopped, not waited for
    with pytest.raises(McpError, match="'fake' failed"):
        call_tool(stdio_server(), "crash", {}, ALLOWED)
    gone = McpServer(
        organization_id="o", name="gone", kind="streamable_http", url="http://127.0.0.1:9/mcp"
    )
    with pytest.raises(McpError, match="'gone' failed"):
        list_tools(gone, McpSettings(urls=("http://127.0.0.1:9",), timeout_s=3))


def test_only_what_the_operator_allowed_is_started_or_reached(http_url):
    other = stdio_server().model_copy(update={"args": ["-c", "print('hi')"]})
    with pytest.raises(McpError, match=r"not one this server's operator allowed.*stdio_commands"):
        list_tools(other, ALLOWED)
    base = http_url.removesuffix("/mcp")
    for url in (base.replace("127.0.0.1", "localhost"), base + "x/mcp", "file:///etc/passwd"):
        settings = McpSettings(urls=(base + "/mcp",))
        with pytest.raises(McpError, match=r"not one this server's operator allowed.*\[mcp\] urls"):
            list_tools(http_server(url), settings)
    assert list_tools(http_server(http_url), McpSettings(urls=(base + "/mcp",)))
