from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Query, Response, UploadFile

from memgpt.server import agentfile
from memgpt.server.deps import Caller, Service
from memgpt.server.requests import CreateAgent, UpdateAgent

router = APIRouter(prefix="/v1/agents", tags=["agents"])


@router.post("/")
def create_agent(body: CreateAgent, p: Caller, service: Service) -> dict[str, Any]:
    return service.create_agent(p, body)


@router.get("/")
def list_agents(
    p: Caller,
    service: Service,
    tags: Annotated[list[str] | None, Query()] = None,
    match_all_tags: bool = False,
    name: str | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    return service.list_agents(
        p, tags=tags or [], match_all_tags=match_all_tags, name=name, after=after, limit=limit
    )


@router.post("/import")
async def import_agent(
    p: Caller,
    service: Service,
    file: Annotated[UploadFile, File()],
    name: Annotated[str | None, Form()] = None,
    override_name: Annotated[str | None, Form()] = None,
    model: Annotated[str | None, Form()] = None,
    override_model_handle: Annotated[str | None, Form()] = None,
) -> dict[str, Any]:
    try:
        data = json.loads(await file.read())
    except ValueError:
        raise HTTPException(
            400, "The agent file is not JSON; upload a .af file exported by memgpt."
        ) from None
    try:
        ids = agentfile.import_file(
            service, p, data, name=name or override_name, model=model or override_model_handle
        )
    except agentfile.AgentFileError as exc:
        raise HTTPException(400, str(exc)) from None
    return {"agent_ids": ids}


@router.get("/{agent_id}")
def get_agent(agent_id: str, p: Caller, service: Service) -> dict[str, Any]:
    return service.render(p, *service.state(p, agent_id))


@router.patch("/{agent_id}")
def update_agent(agent_id: str, body: UpdateAgent, p: Caller, service: Service) -> dict[str, Any]:
    return service.update_agent(p, agent_id, body)


@router.delete("/{agent_id}")
def delete_agent(agent_id: str, p: Caller, service: Service) -> Response:
    service.delete_agent(p, agent_id)
    return Response(status_code=200, content="null", media_type="application/json")


@router.get("/{agent_id}/export")
def export_agent(agent_id: str, p: Caller, service: Service) -> dict[str, Any]:
    return agentfile.export(service, p, agent_id)
