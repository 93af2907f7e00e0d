"""Memory blocks as objects of their own (`/v1/blocks`), scoped to the caller's
organization: create one, attach it to several agents, and an edit by any of them (or
by the user) is in every attached agent's working context at its next step."""

from __future__ import annotations

from typing import Any

from memgpt.memory import working
from memgpt.schemas import Block
from memgpt.server import wire
from memgpt.server.auth import Principal
from memgpt.server.requests import CreateBlock, UpdateBlock
from memgpt.server.service import AgentService, edit_block


def create(service: AgentService, p: Principal, req: CreateBlock) -> dict[str, Any]:
    block = Block(
        label=req.label,
        value=req.value,
        limit=req.limit or Block.model_fields["limit"].default,
        description=req.description or "",
    )
    working.check_limit(block, block.value)
    with service.store.transaction():
        service.store.create_block(block)
        service.accounts.set_block_owner(block.id, p.organization_id)
    return wire.block(block)


def listing(service: AgentService, p: Principal, label: str | None) -> list[dict[str, Any]]:
    blocks = (service.store.get_block(i) for i in service.accounts.owned_blocks(p.organization_id))
    return [wire.block(b) for b in blocks if b and (label is None or b.label == label)]


def get(service: AgentService, p: Principal, block_id: str) -> dict[str, Any]:
    return wire.block(service.owned_block(p, block_id))


def update(service: AgentService, p: Principal, block_id: str, req: UpdateBlock) -> dict[str, Any]:
    edit_block(service.store, service.owned_block(p, block_id), req, None)
    return get(service, p, block_id)


def delete(service: AgentService, p: Principal, block_id: str) -> None:
    service.owned_block(p, block_id)
    service.store.delete_block(block_id)


def agents(service: AgentService, p: Principal, block_id: str) -> list[dict[str, Any]]:
    """The agents sharing the block, as agent listings show them."""
    service.owned_block(p, block_id)
    return [
        service.render(p, *service.state(p, agent_id))
        for agent_id in service.store.block_agents(block_id)
    ]


def attach(service: AgentService, p: Principal, agent_id: str, block_id: str) -> dict[str, Any]:
    service.owner(p, agent_id)
    service.owned_block(p, block_id)
    service.store.attach_block(agent_id, block_id)  # refuses a second block of one label
    return service.render(p, *service.state(p, agent_id))


def detach(service: AgentService, p: Principal, agent_id: str, block_id: str) -> dict[str, Any]:
    service.owner(p, agent_id)
    service.owned_block(p, block_id)
    service.store.detach_block(agent_id, block_id)  # done already if it was not attached
    return service.render(p, *service.state(p, agent_id))
