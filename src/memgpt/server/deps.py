"""FastAPI dependencies shared by the route modules."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi.routing import APIRoute

from memgpt.server.auth import Principal, authenticate
from memgpt.server.fairness import WorkPool
from memgpt.server.requests import NUL_REFUSED
from memgpt.server.runs import RunService
from memgpt.server.service import AgentService
from memgpt.server.steps import StepRunner


def _service(request: Request) -> AgentService:
    return request.app.state.service


def _steps(request: Request) -> StepRunner:
    return request.app.state.steps


def _runs(request: Request) -> RunService:
    return request.app.state.runs


def _tool_runs(request: Request) -> WorkPool:
    return request.app.state.tool_runs


def _imports(request: Request) -> WorkPool:
    return request.app.state.imports


Caller = Annotated[Principal, Depends(authenticate)]
Service = Annotated[AgentService, Depends(_service)]
Steps = Annotated[StepRunner, Depends(_steps)]
Runs = Annotated[RunService, Depends(_runs)]
ToolRuns = Annotated[WorkPool, Depends(_tool_runs)]
Imports = Annotated[WorkPool, Depends(_imports)]

# The most results one request may ask for. It bounds SQL LIMIT and OFFSET (SQLite and
# PostgreSQL refuse numbers past 64 bits, PostgreSQL negative ones) and the depth of a
# vector search, whose index allocates for the depth asked.
MAX_RESULTS = 100_000
Limit = Annotated[int | None, Query(ge=0, le=MAX_RESULTS)]
Count = Annotated[int, Query(ge=0, le=MAX_RESULTS)]


def refuse_nul(request: Request) -> None:
    """App-wide dependency: no NUL in the path or query (PostgreSQL cannot store or even
    compare text holding one); bodies are checked by their models (`requests`)."""
    query = request.query_params.multi_items()
    if "\x00" in request.scope["path"] or any("\x00" in k + v for k, v in query):
        raise HTTPException(400, NUL_REFUSED)


def declared_query_only(request: Request) -> None:
    """Every API route's dependency (app.py): a query parameter the route does not declare
    is a 400 naming it, so a filter memgpt lacks never quietly lists everything."""
    if unknown := sorted(set(request.query_params) - _declared(request.scope["route"])):
        listed = ", ".join(f"`{n}`" for n in unknown)
        raise HTTPException(
            400,
            f"memgpt does not implement {listed} on this route; remove "
            f"{'it' if len(unknown) == 1 else 'them'} (/openapi.json lists each route's "
            "parameters).",
        )


def _declared(route: APIRoute) -> set[str]:
    """The query parameters of the route and of the dependencies it solves (a few)."""
    names, todo = set(), [route.dependant]
    while todo:
        dependant = todo.pop()
        names.update(field.alias for field in dependant.query_params)
        todo.extend(dependant.dependencies)
    return names


def is_sdk_1x(request: Request) -> bool:
    """The 1.x SDK (Stainless) sends this header; Letta keys its 1.x defaults on it too."""
    return "x-stainless-package-version" in request.headers


def page(items: list[dict], after: str | None, limit: int | None) -> list[dict]:
    """Cursor paging over a listing: the items after the one with id `after`. The 1.x SDK
    iterates pages by passing the last id it got, until a page comes back empty."""
    if after is not None:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    return items if limit is None else items[:limit]
