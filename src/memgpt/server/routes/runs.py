"""Runs and steps, as Letta's `/v1/runs` and `/v1/steps` (see ../runs.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request

from memgpt.server import wire
from memgpt.server.deps import Caller, Count, Runs
from memgpt.server.runs import ACTIVE, MOST

router = APIRouter(tags=["runs"])

Ids = Annotated[list[str] | None, Query()]
Order = Literal["asc", "desc"] | None
OrderBy = Literal["created_at"] | None  # Letta's one ordering, and memgpt's


def _newest_first(order: Order, ascending: bool | None) -> bool:
    # Letta lists newest first unless told otherwise (0.1.x says it with `ascending`).
    if order is not None:
        return order == "desc"
    return not ascending if ascending is not None else True


@router.get("/v1/runs/")
@router.get("/v1/runs", include_in_schema=False)
def list_runs(
    p: Caller,
    runs: Runs,
    agent_id: str | None = None,
    agent_ids: Ids = None,
    statuses: Ids = None,
    active: bool = False,
    background: bool | None = None,
    stop_reason: str | None = None,
    after: str | None = None,
    limit: Count = 100,
    order: Order = None,
    order_by: OrderBy = None,
    ascending: bool | None = None,
) -> list[dict[str, Any]]:
    ids = runs.agent_ids(p, [*(agent_ids or []), *([agent_id] if agent_id else [])])
    found = runs.store.list_runs(
        ids,
        ACTIVE if active else statuses,
        limit,
        _newest_first(order, ascending),
        after,
        background=background,
        stop_reason=stop_reason,
    )
    return [wire.run(r) for r in found]


@router.get("/v1/runs/active")
def list_active_runs(
    p: Caller, runs: Runs, agent_ids: Ids = None, background: bool | None = None
) -> list[dict[str, Any]]:
    return list_runs(p, runs, agent_ids=agent_ids, active=True, background=background)


@router.get("/v1/runs/{run_id}")
def get_run(run_id: str, p: Caller, runs: Runs) -> dict[str, Any]:
    return wire.run(runs.get(p, run_id))


@router.delete("/v1/runs/{run_id}")
def delete_run(run_id: str, p: Caller, runs: Runs) -> dict[str, Any]:
    """The deleted run, as it was (0.1.x reads it); see RunService.delete."""
    return wire.run(runs.delete(p, run_id))


@router.get("/v1/runs/{run_id}/usage")
def run_usage(run_id: str, p: Caller, runs: Runs) -> dict[str, Any]:
    total = runs.usage(p, run_id)
    # 1.x reads cached tokens in OpenAI's shape, 0.1.x in Letta's (wire.usage).
    return {
        **wire.usage(total),
        "prompt_tokens_details": {"cached_tokens": total.cached_prompt_tokens},
    }


# What Letta keeps of a run and memgpt does not, with what to read instead.
_NOT_KEPT = {
    "stream": "memgpt keeps no stream of a run to replay; poll GET /v1/runs/{id} and read "
    "GET /v1/runs/{id}/messages.",
    "trace": "memgpt records no OpenTelemetry traces; GET /v1/runs/{id}/steps has each "
    "step's model, tokens and duration.",
    "metrics": "memgpt records no run metrics; read GET /v1/runs/{id}/usage and the run's "
    "own times.",
}


@router.post("/v1/runs/{run_id}/stream", include_in_schema=False)
@router.get("/v1/runs/{run_id}/trace", include_in_schema=False)
@router.get("/v1/runs/{run_id}/metrics", include_in_schema=False)
def not_kept(run_id: str, request: Request, p: Caller, runs: Runs) -> None:
    runs.get(p, run_id)  # another organization's run is missing, as everywhere
    what = request.url.path.rstrip("/").rsplit("/", 1)[1]
    raise HTTPException(501, _NOT_KEPT[what].replace("{id}", run_id))


@router.get("/v1/runs/{run_id}/steps")
def list_run_steps(
    run_id: str,
    p: Caller,
    runs: Runs,
    after: str | None = None,
    limit: Count = 100,
    order: Order = None,
    order_by: OrderBy = None,
) -> list[dict[str, Any]]:
    run = runs.get(p, run_id)
    newest_first = order == "desc"  # a run's steps read in the order they ran
    found = runs.store.list_steps([run.agent_id], run.id, limit, newest_first, after)
    return [wire.step(s) for s in found]


@router.get("/v1/runs/{run_id}/messages")
def list_run_messages(
    run_id: str, p: Caller, runs: Runs, limit: Count = 100
) -> list[dict[str, Any]]:
    return runs.messages(p, run_id, min(limit, MOST))


@router.get("/v1/steps/")
@router.get("/v1/steps", include_in_schema=False)
def list_steps(
    p: Caller,
    runs: Runs,
    agent_id: str | None = None,
    after: str | None = None,
    limit: Count = 100,
    order: Order = None,
    order_by: OrderBy = None,
) -> list[dict[str, Any]]:
    ids = runs.agent_ids(p, [agent_id] if agent_id else None)
    found = runs.store.list_steps(ids, None, limit, _newest_first(order, None), after)
    return [wire.step(s) for s in found]


@router.get("/v1/steps/{step_id}")
def get_step(step_id: str, p: Caller, runs: Runs) -> dict[str, Any]:
    return wire.step(runs.step(p, step_id))
