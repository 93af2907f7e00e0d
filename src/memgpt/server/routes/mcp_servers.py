"""MCP servers and their tools, in both Letta SDK lines' routes: 1.x `/v1/mcp-servers/`
(by id) and 0.1.x `/v1/tools/mcp/servers` (by name). Tools are attached to agents with
the ordinary tool routes, by the ids listed here. What is not here (updating a server,
running its tool directly, OAuth) answers 501."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from memgpt.server import mcp_registry as registry
from memgpt.server import wire
from memgpt.server.deps import Caller, Service
from memgpt.server.mcp_registry import CreateServer, ServerConfig

router = APIRouter(tags=["mcp servers"])

# 1.x


@router.post("/v1/mcp-servers/")
def create_server(body: CreateServer, p: Caller, service: Service) -> dict[str, Any]:
    server = registry.server_from(p, body.server_name, body.config)
    return wire.mcp_server(registry.register(service, server))


@router.get("/v1/mcp-servers/")
def list_servers(p: Caller, service: Service) -> list[dict[str, Any]]:
    return [wire.mcp_server(s) for s in registry.list_servers(service, p)]


@router.get("/v1/mcp-servers/{server_id}")
def get_server(server_id: str, p: Caller, service: Service) -> dict[str, Any]:
    return wire.mcp_server(registry.get_server(service, p, server_id))


@router.delete("/v1/mcp-servers/{server_id}", status_code=204)
def delete_server(server_id: str, p: Caller, service: Service) -> Response:
    registry.remove(service, p, server_id)
    return Response(status_code=204)


@router.get("/v1/mcp-servers/{server_id}/tools")
def list_server_tools(server_id: str, p: Caller, service: Service) -> list[dict[str, Any]]:
    return registry.tools(service, p, server_id)


@router.get("/v1/mcp-servers/{server_id}/tools/{tool_id}")
def get_server_tool(server_id: str, tool_id: str, p: Caller, service: Service) -> dict[str, Any]:
    return registry.tool(service, p, server_id, tool_id)


@router.patch("/v1/mcp-servers/{server_id}/refresh")
def refresh_server(
    server_id: str, p: Caller, service: Service, agent_id: str | None = None
) -> list[dict[str, Any]]:
    if agent_id is not None:
        raise registry.mcp.McpError(
            "memgpt refreshes a server's tools for every agent at once; leave agent_id out."
        )
    return registry.tools(service, p, server_id, refresh=True)


# 0.1.x


def _by_name(service: Service, p: Caller) -> list[dict[str, Any]]:
    return [wire.mcp_server(s) for s in registry.list_servers(service, p)]


@router.get("/v1/tools/mcp/servers")
def list_servers_by_name(p: Caller, service: Service) -> dict[str, dict[str, Any]]:
    return {s["server_name"]: s for s in _by_name(service, p)}


@router.put("/v1/tools/mcp/servers")
def add_server(body: ServerConfig, p: Caller, service: Service) -> list[dict[str, Any]]:
    if not body.server_name:
        raise registry.mcp.McpError("Give the MCP server a server_name.")
    registry.register(service, registry.server_from(p, body.server_name, body))
    return _by_name(service, p)


@router.delete("/v1/tools/mcp/servers/{server_name}")
def remove_server(server_name: str, p: Caller, service: Service) -> list[dict[str, Any]]:
    registry.remove(service, p, server_name)
    return _by_name(service, p)


@router.get("/v1/tools/mcp/servers/{server_name}/tools")
def list_mcp_tools(server_name: str, p: Caller, service: Service) -> list[dict[str, Any]]:
    """The tools as MCP describes them (0.1.x `McpTool`: name, description, inputSchema)."""
    registry.tools(service, p, server_name, refresh=True)
    return registry.get_server(service, p, server_name).tools


@router.post("/v1/tools/mcp/servers/{server_name}/{tool_name}")
def add_mcp_tool(server_name: str, tool_name: str, p: Caller, service: Service) -> dict[str, Any]:
    return registry.tool(service, p, server_name, tool_name)
