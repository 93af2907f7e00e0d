"""Blocks shared between agents: `/v1/blocks` and attaching them to agents (both SDK
lines call the same paths)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from memgpt.server import blocks
from memgpt.server.deps import Caller, Limit, Service, page
from memgpt.server.requests import CreateBlock, UpdateBlock

router = APIRouter(tags=["blocks"])


@router.post("/v1/blocks/")
def create_block(body: CreateBlock, p: Caller, service: Service) -> dict[str, Any]:
    return blocks.create(service, p, body)


@router.get("/v1/blocks/")
def list_blocks(
    p: Caller,
    service: Service,
    label: str | None = None,
    after: str | None = None,
    limit: Limit = None,
) -> list[dict[str, Any]]:
    return page(blocks.listing(service, p, label), after, limit)


# Before /{block_id}, which would otherwise match it.
@router.get("/v1/blocks/count")
def count_blocks(p: Caller, service: Service) -> int:
    return len(blocks.listing(service, p, None))


@router.get("/v1/blocks/{block_id}")
def get_block(block_id: str, p: Caller, service: Service) -> dict[str, Any]:
    return blocks.get(service, p, block_id)


@router.patch("/v1/blocks/{block_id}")
def update_block(block_id: str, body: UpdateBlock, p: Caller, service: Service) -> dict[str, Any]:
    return blocks.update(service, p, block_id, body)


@router.delete("/v1/blocks/{block_id}")
def delete_block(block_id: str, p: Caller, service: Service) -> Response:
    blocks.delete(service, p, block_id)
    return Response(status_code=200, content="null", media_type="application/json")


@router.get("/v1/blocks/{block_id}/agents")
def block_agents(
    block_id: str, p: Caller, service: Service, after: str | None = None, limit: Limit = None
) -> list[dict[str, Any]]:
    return page(blocks.agents(service, p, block_id), after, limit)


# The agent: 0.1.x reads it, 1.x ignores it.
@router.patch("/v1/agents/{agent_id}/core-memory/blocks/attach/{block_id}")
def attach_block(agent_id: str, block_id: str, p: Caller, service: Service) -> dict[str, Any]:
    return blocks.attach(service, p, agent_id, block_id)


@router.patch("/v1/agents/{agent_id}/core-memory/blocks/detach/{block_id}")
def detach_block(agent_id: str, block_id: str, p: Caller, service: Service) -> dict[str, Any]:
    return blocks.detach(service, p, agent_id, block_id)
