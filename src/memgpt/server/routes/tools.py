"""The organization's tools, running them, and attaching them to agents."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from memgpt.errors import MemGPTError
from memgpt.server import toolbox
from memgpt.server.deps import Caller, Limit, Service, ToolRuns, page
from memgpt.server.requests import (
    CreateTool,
    RunTool,
    RunToolFromSource,
    ToolApproval,
    UpdateTool,
)

router = APIRouter(tags=["tools"])


@router.post("/v1/tools/")
def create_tool(body: CreateTool, p: Caller, service: Service) -> dict[str, Any]:
    return toolbox.create_tool(service, p, body)


@router.put("/v1/tools/")
def upsert_tool(body: CreateTool, p: Caller, service: Service) -> dict[str, Any]:
    return toolbox.create_tool(service, p, body, upsert=True)


@router.get("/v1/tools/")
def list_tools(
    p: Caller,
    service: Service,
    name: str | None = None,
    after: str | None = None,
    limit: Limit = None,
) -> list[dict[str, Any]]:
    return page(toolbox.list_tools(service, p, name), after, limit)


@router.post("/v1/tools/run")
async def run_tool_from_source(
    body: RunToolFromSource, p: Caller, service: Service, runs: ToolRuns
) -> dict[str, Any]:
    # Authenticated like every route; the code runs in the sandbox, in a worker thread.
    return await runs.run(
        p.organization_id,
        toolbox.run_from_source,
        service,
        body.source_code,
        body.args,
        body.name,
    )


@router.get("/v1/tools/{tool_id}")
def get_tool(tool_id: str, p: Caller, service: Service) -> dict[str, Any]:
    return toolbox.get_tool(service, p, tool_id)


@router.patch("/v1/tools/{tool_id}")
def update_tool(tool_id: str, body: UpdateTool, p: Caller, service: Service) -> dict[str, Any]:
    return toolbox.update_tool(service, p, tool_id, body)


@router.delete("/v1/tools/{tool_id}")
def delete_tool(tool_id: str, p: Caller, service: Service) -> Response:
    toolbox.delete_tool(service, p, tool_id)
    return Response(status_code=200, content="null", media_type="application/json")


@router.get("/v1/agents/{agent_id}/tools")
def agent_tools(
    agent_id: str, p: Caller, service: Service, after: str | None = None, limit: Limit = None
) -> list[dict[str, Any]]:
    return page(toolbox.list_agent_tools(service, p, agent_id), after, limit)


@router.patch("/v1/agents/{agent_id}/tools/attach/{tool_id}")
def attach_tool(agent_id: str, tool_id: str, p: Caller, service: Service) -> dict[str, Any]:
    toolbox.attach_tools(service, p, agent_id, [tool_id])
    return service.render(p, *service.state(p, agent_id))  # 0.1.x reads it; 1.x ignores it


@router.patch("/v1/agents/{agent_id}/tools/detach/{tool_id}")
def detach_tool(agent_id: str, tool_id: str, p: Caller, service: Service) -> dict[str, Any]:
    toolbox.detach_tool(service, p, agent_id, tool_id)
    return service.render(p, *service.state(p, agent_id))


@router.patch("/v1/agents/{agent_id}/tools/approval/{tool_name}")
def set_tool_approval(
    agent_id: str,
    tool_name: str,
    p: Caller,
    service: Service,
    body: Annotated[ToolApproval | None, Body()] = None,
    requires_approval: bool | None = None,  # 0.1.x sends it in the query, 1.x in the body
) -> dict[str, Any]:
    """Whether the agent's calls to the tool wait for the user's approval."""
    required = body.requires_approval if body else requires_approval
    if required is None:
        raise MemGPTError(
            "Say whether the tool requires approval: `requires_approval` true or false."
        )
    toolbox.set_approval(service, p, agent_id, tool_name, required)
    return service.render(p, *service.state(p, agent_id))


@router.post("/v1/agents/{agent_id}/tools/{tool_name}/run")
async def run_agent_tool(
    agent_id: str, tool_name: str, body: RunTool, p: Caller, service: Service, runs: ToolRuns
) -> dict[str, Any]:
    return await runs.run(
        p.organization_id, toolbox.run_agent_tool, service, p, agent_id, tool_name, body.args
    )
