"""Runs and steps, as Letta's `/v1/runs` and `/v1/steps` (see ../runs.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from memgpt.server import wire
from memgpt.server.deps import Caller, Count, Runs
from memgpt.server.runs import ACTIVE, MOST

router = APIRouter(tags=["runs"])

Ids = Annotated[list[str] | None, Query()]
Order = Literal["asc", "desc"] | None


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
    after: str | None = None,
    limit: Count = 100,
    order: Order = None,
    ascending: bool | None = None,
) -> list[dict[str, Any]]:
    ids = runs.agent_ids(p, [*(agent_ids or []), *([agent_id] if agent_id else [])])
    found = runs.store.list_runs(
        ids, ACTIVE if active else statuses, limit, _newest_first(order, ascending), after
    )
    return [wire.run(r) for r in found if background is None or r.background == background]


@router.get("/v1/runs/active")
def list_active_runs(
    p: Caller, runs: Runs, agent_ids: Ids = None, background: bool | None = None
) -> list[dict[str, Any]]:
    return list_runs(p, runs, agent_ids=agent_ids, active=True, background=background)


@router.get("/v1/runs/{run_id}")
def get_run(run_id: str, p: Caller, runs: Runs) -> dict[str, Any]:
    return wire.run(runs.get(p, run_id))


@router.get("/v1/runs/{run_id}/steps")
def list_run_steps(
    run_id: str,
    p: Caller,
    runs: Runs,
    after: str | None = None,
    limit: Count = 100,
    order: Order = None,
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
) -> list[dict[str, Any]]:
    ids = runs.agent_ids(p, [agent_id] if agent_id else None)
    found = runs.store.list_steps(ids, None, limit, _newest_first(order, None), after)
    return [wire.step(s) for s in found]


@router.get("/v1/steps/{step_id}")
def get_step(step_id: str, p: Caller, runs: Runs) -> dict[str, Any]:
    return wire.step(runs.step(p, step_id))
