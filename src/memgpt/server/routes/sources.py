"""Document sources: 0.1.x calls them /v1/sources and attaches them at
/v1/agents/{id}/sources/..., 1.x calls them /v1/folders and /v1/agents/{id}/folders/...;
each route answers under both names with the same shapes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from memgpt.server.deps import Caller, Limit, page
from memgpt.server.requests import CreateSource
from memgpt.server.sources import SourceService
from memgpt.server.uploads import UPLOAD_BODY, receive_file, safe_file_name


def _sources(request: Request) -> SourceService:
    return request.app.state.sources


Sources = Annotated[SourceService, Depends(_sources)]

router = APIRouter(tags=["sources"])


def _both(method: str, path: str, **kwargs: Any):
    """Register a route at /v1/sources{path} and /v1/folders{path}."""

    def register(fn):
        for prefix in ("/v1/sources", "/v1/folders"):
            router.api_route(prefix + path, methods=[method], **kwargs)(fn)
        return fn

    return register


def _both_agent(method: str, path: str):
    """Register a route at /v1/agents/{agent_id}/sources{path} and .../folders{path}."""

    def register(fn):
        for kind in ("sources", "folders"):
            router.api_route(f"/v1/agents/{{agent_id}}/{kind}{path}", methods=[method])(fn)
        return fn

    return register


def _ordered(items: list[dict], order: Literal["asc", "desc"] | None) -> list[dict]:
    return items[::-1] if order == "desc" else items


# Fixed paths come before /{source_id}, which would otherwise match them.
@_both("GET", "/count")
def count_sources(p: Caller, sources: Sources) -> int:
    return sources.count(p)


@_both("GET", "/name/{source_name}")
def source_id_by_name(source_name: str, p: Caller, sources: Sources) -> str:
    return sources.id_by_name(p, source_name)


@_both("POST", "/")
def create_source(body: CreateSource, p: Caller, sources: Sources) -> dict[str, Any]:
    return sources.create(p, body)


@_both("GET", "/")
def list_sources(
    p: Caller,
    sources: Sources,
    name: str | None = None,
    after: str | None = None,
    limit: Limit = None,
    order: Literal["asc", "desc"] | None = None,
) -> list[dict[str, Any]]:
    return page(_ordered(sources.list_sources(p, name), order), after, limit)


@_both("GET", "/{source_id}")
def get_source(source_id: str, p: Caller, sources: Sources) -> dict[str, Any]:
    return sources.render(p, source_id)


@_both("DELETE", "/{source_id}")
def delete_source(source_id: str, p: Caller, sources: Sources) -> Response:
    sources.delete(p, source_id)
    return Response(status_code=200, content="null", media_type="application/json")


@_both("POST", "/{source_id}/upload", openapi_extra=UPLOAD_BODY)
async def upload_file(
    source_id: str, request: Request, p: Caller, sources: Sources, name: str | None = None
) -> dict[str, Any]:
    # 404 before the body is read (one indexed read on the event loop).
    sources.owner(p, source_id)
    upload = await receive_file(request, sources.max_upload_bytes)
    try:
        file_name = safe_file_name(name or upload.filename)
        return await run_in_threadpool(
            sources.upload, p, source_id, file_name, upload.content_type, upload.file
        )
    finally:
        await upload.close()


@_both("GET", "/{source_id}/files")
def list_files(
    source_id: str,
    p: Caller,
    sources: Sources,
    after: str | None = None,
    limit: Limit = None,
    order: Literal["asc", "desc"] | None = None,
) -> list[dict[str, Any]]:
    return page(_ordered(sources.list_files(p, source_id), order), after, limit)


@_both("GET", "/{source_id}/files/{file_id}")
def get_file(source_id: str, file_id: str, p: Caller, sources: Sources) -> dict[str, Any]:
    return sources.get_file(p, source_id, file_id)


@_both_agent("GET", "")
def agent_sources(
    agent_id: str, p: Caller, sources: Sources, after: str | None = None, limit: Limit = None
) -> list[dict[str, Any]]:
    return page(sources.of_agent(p, agent_id), after, limit)


@_both_agent("PATCH", "/attach/{source_id}")
def attach_source(agent_id: str, source_id: str, p: Caller, sources: Sources) -> dict[str, Any]:
    return sources.attach(p, agent_id, source_id)  # the agent: 0.1.x reads it, 1.x ignores it


@_both_agent("PATCH", "/detach/{source_id}")
def detach_source(agent_id: str, source_id: str, p: Caller, sources: Sources) -> dict[str, Any]:
    return sources.detach(p, agent_id, source_id)
