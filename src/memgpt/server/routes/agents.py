from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from memgpt.server import wire
from memgpt.server.auth import Principal
from memgpt.server.deps import Caller, Imports, Limit, Service
from memgpt.server.requests import CreateAgent, UpdateAgent, clean_text
from memgpt.server.service import AgentService
from memgpt.server.uploads import receive_form, upload_body

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
    limit: Limit = None,
) -> list[dict[str, Any]]:
    return service.list_agents(
        p, tags=tags or [], match_all_tags=match_all_tags, name=name, after=after, limit=limit
    )


IMPORT_FIELDS = ("name", "override_name", "model", "override_model_handle")


@router.post("/import", openapi_extra=upload_body(*IMPORT_FIELDS))
async def import_agent(
    request: Request, p: Caller, service: Service, imports: Imports
) -> dict[str, Any]:
    # Read by hand, bounded as document uploads are: an agent file is untrusted input.
    upload, fields = await receive_form(request, request.app.state.settings.max_upload_bytes)
    try:
        raw = await upload.read()
    finally:
        await upload.close()
    try:
        form = clean_text(fields)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    name = form.get("name") or form.get("override_name") or None
    model = form.get("model") or form.get("override_model_handle") or None
    # Parsed in the import pool too: a large file's JSON would hold the event loop.
    ids = await imports.run(p.organization_id, _import, service, p, raw, name, model)
    return {"agent_ids": ids}


def _import(
    service: AgentService, p: Principal, raw: bytes, name: str | None, model: str | None
) -> list[str]:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested past Python's stack
        raise HTTPException(
            400, "The agent file is not JSON; upload a .af file exported by memgpt."
        ) from None
    from memgpt.server import agentfile  # its file schema is built only for imports and exports

    return agentfile.import_file(service, p, data, name=name, model=model)


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


@router.get("/{agent_id}/usage")
def agent_usage(agent_id: str, p: Caller, service: Service) -> dict[str, Any]:
    """The tokens the agent's steps have used, summed over its life (memgpt's own route)."""
    state, _owner = service.state(p, agent_id)
    return wire.usage(state.usage)


@router.get("/{agent_id}/export")
def export_agent(agent_id: str, p: Caller, service: Service) -> dict[str, Any]:
    from memgpt.server import agentfile

    return agentfile.export(service, p, agent_id)
