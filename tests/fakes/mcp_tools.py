"""A real MCP server built with the `mcp` SDK, for the MCP client's tests. Run as a script:
`mcp_tools.py stdio`, or `mcp_tools.py http PORT TOKEN` for streamable HTTP at /mcp (`sse`
for SSE at /sse) that answers only requests bearing the token. Besides working tools it has ones that fail each
way a server can: an error result, a hang, a crash."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

# How a test starts this server over stdio, and the token its HTTP form wants.
STDIO_LINE = [sys.executable, str(Path(__file__).resolve()), "stdio"]
TOKEN = "fake-token"

server = MCPServer("fake-tools")


@server.tool()
def add(a: int, b: int) -> str:
    """Add two whole numbers."""
    return f"{a} + {b} = {a + b}"


@server.tool()
def shout(text: str) -> str:
    """The text in capitals."""
    return text.upper()


@server.tool()
def refuse(reason: str) -> str:
    """Always fails, with the reason given."""
    raise ToolError(f"refused: {reason}")


@server.tool()
def hang() -> str:
    """Never answers."""
    time.sleep(3600)
    return "late"


@server.tool()
def crash() -> str:
    """Ends the server's process mid-call."""
    os._exit(3)


def _guarded(app, token: str):
    """The app, answering 401 to a request without the bearer token."""

    async def guarded(scope, receive, send):
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            if headers.get(b"authorization") != f"Bearer {token}".encode():
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b"no token"})
                return
        await app(scope, receive, send)

    return guarded


@contextmanager
def http_server(transport: str = "http") -> Iterator[str]:
    """This server over streamable HTTP (or "sse") on a free loopback port; yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([*STDIO_LINE[:2], transport, str(port), TOKEN])
    url = f"http://127.0.0.1:{port}/{'mcp' if transport == 'http' else 'sse'}"
    try:
        for _ in range(300):
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    if sys.argv[1] == "stdio":
        server.run("stdio")
    else:
        import uvicorn

        port, token = int(sys.argv[2]), sys.argv[3]
        app = server.streamable_http_app() if sys.argv[1] == "http" else server.sse_app()
        app = _guarded(app, token)
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
