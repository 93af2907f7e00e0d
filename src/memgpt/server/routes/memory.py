"""Core memory blocks and archival passages of one agent."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from memgpt.server.deps import Caller, Count, Limit, Service, is_sdk_1x, page
from memgpt.server.requests import CreatePassage, UpdateBlock

router = APIRouter(prefix="/v1/agents/{agent_id}", tags=["memory"])


@router.get("/core-memory")
def core_memory(agent_id: str, p: Caller, service: Service) -> dict[str, Any]:
    return {"blocks": service.blocks(p, agent_id), "file_blocks": [], "prompt_template": ""}


@router.get("/core-memory/blocks")
def list_blocks(
    agent_id: str, p: Caller, service: Service, after: str | None = None, limit: Limit = None
) -> list[dict[str, Any]]:
    return page(service.blocks(p, agent_id), after, limit)


@router.get("/core-memory/blocks/{label}")
def get_block(agent_id: str, label: str, p: Caller, service: Service) -> dict[str, Any]:
    return service.block(p, agent_id, label)


@router.patch("/core-memory/blocks/{label}")
def update_block(
    agent_id: str, label: str, body: UpdateBlock, p: Caller, service: Service
) -> dict[str, Any]:
    return service.update_block(p, agent_id, label, body)


@router.post("/archival-memory")
def insert_passage(
    agent_id: str, body: CreatePassage, p: Caller, service: Service
) -> list[dict[str, Any]]:
    return service.insert_passage(p, agent_id, body.text)


@router.get("/archival-memory")
def list_passages(
    agent_id: str,
    request: Request,
    p: Caller,
    service: Service,
    after: str | None = None,
    limit: Count = 100,
    ascending: bool | None = None,
) -> list[dict[str, Any]]:
    descending = not ascending if ascending is not None else is_sdk_1x(request)
    return service.list_passages(p, agent_id, after=after, limit=limit, descending=descending)


@router.get("/archival-memory/search")
def search_passages(
    agent_id: str, query: str, p: Caller, service: Service, top_k: Count = 10
) -> dict[str, Any]:
    return service.search_passages(p, agent_id, query, top_k)


@router.delete("/archival-memory/{passage_id}")
def delete_passage(agent_id: str, passage_id: str, p: Caller, service: Service) -> Response:
    service.delete_passage(p, agent_id, passage_id)
    return Response(status_code=200, content="null", media_type="application/json")
