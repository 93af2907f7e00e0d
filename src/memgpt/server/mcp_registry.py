"""An organization's MCP servers: register, list, refresh their tools, remove; the Python
API under both Letta SDK lines' routes and `memgpt mcp add/list/remove`.

A server's tools get ids derived from the server and the tool's name, so a tool listed
twice keeps its id; an agent holds the tool by name, and the service finds its server
(see `AgentService.functions`). Tools a server no longer offers, or whose server is
removed, are detached from the organization's agents.
"""

from __future__ import annotations

from typing import Any, Literal

from memgpt.schemas import utcnow
from memgpt.server import wire
from memgpt.server.auth import Principal
from memgpt.server.errors import NotFoundError
from memgpt.server.requests import _Body
from memgpt.server.service import AgentService
from memgpt.store.mcp_servers import McpServer
from memgpt.tools import mcp


class ServerConfig(_Body):
    """A server as either SDK line sends it: the 1.x `config` (`mcp_server_type`) or the
    0.1.x body (`type`, with `server_name` beside it)."""

    server_name: str | None = None
    type: Literal["stdio", "sse", "streamable_http"] | None = None
    mcp_server_type: Literal["stdio", "sse", "streamable_http"] | None = None
    command: str | None = None
    args: list[str] | None = None
    env: dict[str, str | None] | None = None
    server_url: str | None = None
    auth_header: str | None = None
    auth_token: str | None = None
    custom_headers: dict[str, str | None] | None = None


class CreateServer(_Body):
    server_name: str
    config: ServerConfig


def server_from(p: Principal, name: str, config: ServerConfig) -> McpServer:
    """The server a request describes, refused in one sentence where it cannot be used."""
    kind = config.mcp_server_type or config.type or ("stdio" if config.command else None)
    if kind is None:
        raise mcp.McpError("Give the MCP server a command (stdio) or a server_url.")
    if config.env:
        raise mcp.McpError(
            "memgpt does not pass environment variables to stdio MCP servers; leave env out "
            "and have the operator's allowed command set them."
        )
    if kind == "stdio":
        if not config.command:
            raise mcp.McpError("A stdio MCP server needs a command.")
        return McpServer(
            organization_id=p.organization_id,
            name=name,
            kind=kind,
            command=config.command,
            args=config.args or [],
        )
    if not config.server_url:
        raise mcp.McpError(f"An {kind} MCP server needs a server_url.")
    headers = {k: v for k, v in (config.custom_headers or {}).items() if v is not None}
    if config.auth_token:
        # Letta's convention: the header named (Authorization by default) carries the token
        # as given, "Bearer" added when only a bare token is.
        header = config.auth_header or "Authorization"
        token = config.auth_token
        if header.lower() == "authorization" and " " not in token:
            token = f"Bearer {token}"
        headers[header] = token
    return McpServer(
        organization_id=p.organization_id,
        name=name,
        kind=kind,
        url=config.server_url,
        headers=headers,
    )


def register(service: AgentService, server: McpServer) -> McpServer:
    service.mcp.check(server)
    service.mcp_servers.save(server)
    return server


def get_server(service: AgentService, p: Principal, id_or_name: str) -> McpServer:
    server = service.mcp_servers.get(p.organization_id, id_or_name)
    if server is None:
        raise NotFoundError(f"There is no MCP server {id_or_name!r}.")
    return server


def list_servers(service: AgentService, p: Principal) -> list[McpServer]:
    return service.mcp_servers.list(p.organization_id)


def tools(
    service: AgentService, p: Principal, id_or_name: str, *, refresh: bool = False
) -> list[dict[str, Any]]:
    """The server's tools as Letta tools: from the cache, asked anew when never listed or
    when `refresh`."""
    server = get_server(service, p, id_or_name)
    if refresh or server.tools_at is None:
        offered = mcp.list_tools(server, service.mcp)
        gone = {t["name"] for t in server.tools} - {t["name"] for t in offered}
        server.tools, server.tools_at = offered, utcnow()
        service.mcp_servers.save(server)
        _detach(service, p, gone)
    return [wire.mcp_tool(server, t) for t in server.tools]


def tool(service: AgentService, p: Principal, id_or_name: str, tool_name: str) -> dict[str, Any]:
    """One of the server's tools by name or id."""
    for listed in tools(service, p, id_or_name):
        if tool_name in (listed["name"], listed["id"]):
            return listed
    raise NotFoundError(f"The MCP server {id_or_name!r} offers no tool {tool_name!r}.")


def remove(service: AgentService, p: Principal, id_or_name: str) -> McpServer:
    server = get_server(service, p, id_or_name)
    service.mcp_servers.delete(p.organization_id, server.id)
    _detach(service, p, {t["name"] for t in server.tools})
    return server


def _detach(service: AgentService, p: Principal, names: set[str]) -> None:
    """Take tools no server offers any more off the organization's agents."""
    from memgpt.server.toolbox import set_tools  # toolbox builds on the service

    if not names:
        return
    for owner in service.accounts.owned_agents(p.organization_id):
        state = service.store.get_agent(owner.agent_id)
        if state is not None and names & set(state.tool_names):
            keep = [n for n in state.tool_names if n not in names]
            set_tools(service, p, owner.agent_id, keep or list(service.defaults))
