"""FastAPI dependencies shared by the route modules."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from memgpt.server.auth import Principal, authenticate
from memgpt.server.service import AgentService
from memgpt.server.steps import StepRunner


def _service(request: Request) -> AgentService:
    return request.app.state.service


def _steps(request: Request) -> StepRunner:
    return request.app.state.steps


Caller = Annotated[Principal, Depends(authenticate)]
Service = Annotated[AgentService, Depends(_service)]
Steps = Annotated[StepRunner, Depends(_steps)]


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
