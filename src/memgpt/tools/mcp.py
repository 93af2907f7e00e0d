"""MCP servers' tools as agent functions, through the official `mcp` SDK's client.

An organization registers a server (a stdio command, or a streamable HTTP or SSE URL with
headers); its tool list is fetched on demand and kept with the server; an agent given one
of its tools calls it like any other function. Each call connects, calls and closes within
a time cap, and whatever goes wrong (a hang, a crash, an error result, a server gone)
raises McpError, which the agent loop turns into a failed result the model sees.

The operator decides what may run or be reached (`[mcp]` in config.toml): a stdio server
only from a command line listed there, a URL only under a listed prefix, since a REST
client must never run a command on the server or make it connect where the operator
did not allow (DESIGN invariant 8).
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from memgpt.errors import MemGPTError
from memgpt.store.mcp_servers import McpServer
from memgpt.tools.sandbox import UserFunction, user_function
from memgpt.tools.schema import with_loop_arguments

if TYPE_CHECKING:
    from mcp import Client

    from memgpt.config import Settings

TIMEOUT_S = 30.0
# Read from the server at most this much text; the agent loop trims it to its token budget.
MAX_RESULT_CHARS = 200_000


class McpError(MemGPTError):
    """A server that cannot be registered or reached, or a call that failed; one sentence why."""


@dataclass(frozen=True)
class McpSettings:
    """What the operator allows: stdio command lines (each compared whole, arguments
    included) and URL prefixes (scheme, host and port equal, path beneath)."""

    stdio_commands: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    timeout_s: float = TIMEOUT_S

    @classmethod
    def from_settings(cls, settings: Settings) -> McpSettings:
        return cls(
            tuple(settings.mcp_stdio_commands),
            tuple(settings.mcp_urls),
            settings.mcp_timeout_s or TIMEOUT_S,
        )

    def check(self, server: McpServer) -> None:
        """McpError unless the operator allowed this server's command or URL."""
        if server.kind == "stdio":
            line = [server.command or "", *server.args]
            if line not in [shlex.split(allowed) for allowed in self.stdio_commands]:
                raise McpError(
                    f"The command {shlex.join(line)!r} is not one this server's operator "
                    "allowed for MCP servers; ask them to add it to [mcp] stdio_commands."
                )
        elif not any(_beneath(server.url or "", allowed) for allowed in self.urls):
            raise McpError(
                f"The URL {server.url!r} is not one this server's operator allowed for MCP "
                "servers; ask them to add it to [mcp] urls."
            )


def _beneath(url: str, prefix: str) -> bool:
    asked, allowed = urlsplit(url), urlsplit(prefix)
    try:
        same_origin = (asked.scheme, asked.hostname, asked.port) == (
            allowed.scheme,
            allowed.hostname,
            allowed.port,
        )
    except ValueError:  # a port that is not a number
        return False
    base = allowed.path.rstrip("/")
    return (
        asked.scheme in ("http", "https")
        and same_origin
        and (asked.path == base or asked.path.startswith(base + "/"))
    )


def _client(server: McpServer, timeout_s: float) -> Client:
    # The SDK costs seconds to import: only a call that reaches an MCP server pays it.
    from mcp import Client, StdioServerParameters
    from mcp.client.sse import sse_client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    if server.kind == "stdio":
        return Client(StdioServerParameters(command=server.command or "", args=server.args))
    if server.kind == "sse":
        return Client(sse_client(server.url or "", headers=server.headers, timeout=timeout_s))
    http = create_mcp_http_client(headers=server.headers)
    return Client(streamable_http_client(server.url or "", http_client=http))


def _run(work: Callable[[Client], Awaitable[Any]], server: McpServer, timeout_s: float) -> Any:
    """`work` on a fresh connection, all within `timeout_s`; McpError for any failure. It
    runs on its own thread so that callers inside an event loop can wait for it too."""

    async def go() -> Any:
        async with asyncio.timeout(timeout_s), _client(server, timeout_s) as client:
            return await work(client)

    with ThreadPoolExecutor(1, thread_name_prefix="mcp") as pool:
        try:
            return pool.submit(asyncio.run, go()).result()
        except TimeoutError:
            raise McpError(
                f"The MCP server {server.name!r} did not answer within {timeout_s:g} s."
            ) from None
        except McpError:
            raise
        except Exception as exc:  # the SDK's errors vary by transport; all mean "not reached"
            raise McpError(f"The MCP server {server.name!r} failed ({_reason(exc)}).") from None


def _reason(exc: BaseException) -> str:
    """The innermost error of an exception group (the SDK's task groups wrap them)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def list_tools(server: McpServer, settings: McpSettings) -> list[dict[str, Any]]:
    """The server's tools as {name, description, inputSchema}, asked now."""
    settings.check(server)

    async def work(client: Client) -> list[dict[str, Any]]:
        listed = await client.list_tools()
        return [
            {"name": t.name, "description": t.description or "", "inputSchema": t.input_schema}
            for t in listed.tools
        ]

    return _run(work, server, settings.timeout_s)


def call_tool(
    server: McpServer, tool: str, arguments: dict[str, Any], settings: McpSettings
) -> str:
    """The text of a tool's result, bounded; McpError when the call or the tool failed."""
    settings.check(server)

    async def work(client: Client) -> tuple[bool, str]:
        result = await client.call_tool(tool, arguments, read_timeout_seconds=settings.timeout_s)
        parts = [getattr(part, "text", None) or f"[{part.type} content]" for part in result.content]
        return result.is_error, "\n".join(parts)

    failed, text = _run(work, server, settings.timeout_s)
    if len(text) > MAX_RESULT_CHARS:
        text = text[:MAX_RESULT_CHARS] + f"\n[Cut at {MAX_RESULT_CHARS} characters.]"
    if failed:
        raise McpError(f"{tool} on {server.name!r} returned an error: {text}")
    return text


def schema(tool: dict[str, Any]) -> dict[str, Any]:
    """A listed tool's function schema, as the model sees any function's."""
    parameters = with_loop_arguments(tool.get("inputSchema") or {})
    return {"name": tool["name"], "description": tool["description"], "parameters": parameters}


def mcp_function(server: McpServer, tool: dict[str, Any], settings: McpSettings) -> UserFunction:
    """A server's tool as a function for the agent loop: arguments checked against its
    schema's basic types as a user tool's are, the call made through the SDK."""
    checked = user_function(tool["name"], "", schema(tool))

    def call(_context: object, **kwargs: Any) -> str:
        given = {k: v for k, v in kwargs.items() if v is not None}
        return call_tool(server, tool["name"], given, settings)

    return UserFunction(
        checked.name,
        checked.description,
        call,
        checked.arguments,
        heartbeat=True,
        stored_schema=checked.stored_schema,
    )
