"""The FastAPI application: routes, error shapes, and the objects routes share."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import import_module
from importlib.metadata import version
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from memgpt.client import MemGPT
from memgpt.errors import AgentNotFoundError, InputTooLargeError, MemGPTError
from memgpt.memory.recall import SearchError
from memgpt.memory.working import MemoryEditError
from memgpt.server.auth import ensure_anonymous_user
from memgpt.server.deps import declared_query_only, refuse_nul
from memgpt.server.edge import Edge
from memgpt.server.errors import ConflictError, ModelCallError, NotFoundError
from memgpt.server.fairness import TooBusyError, WorkPool
from memgpt.server.mcp_endpoint import mount as mount_mcp
from memgpt.server.routes import (
    agents,
    blocks,
    chat,
    health,
    mcp_servers,
    memory,
    messages,
    models,
    runs,
    sources,
    tools,
    ui,
)
from memgpt.server.runs import RunService
from memgpt.server.scheduler import Scheduler
from memgpt.server.service import AgentService
from memgpt.server.settings import ServerSettings
from memgpt.server.sources import SourceService
from memgpt.server.steps import StepRunner
from memgpt.store import Store
from memgpt.store.accounts import accounts_for
from memgpt.tools import sandbox

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"  # the web UI, served at /
# What the first agent needs and a start does not: loaded behind the start, once the
# server answers, so neither the start nor the first request waits for it.
DEFERRED = ("numpy",)
ROUTERS = tuple(
    module.router
    for module in (
        health,
        agents,
        blocks,
        memory,
        messages,
        runs,
        models,
        mcp_servers,
        tools,
        sources,
        chat,
        ui,
    )
)

_STATUS: list[tuple[type[Exception], int]] = [
    (NotFoundError, 404),
    (AgentNotFoundError, 404),
    (ConflictError, 409),
    (InputTooLargeError, 413),
    (MemGPTError, 400),  # every other error a caller can cause says what to do
    # The memory layer's own checks (an empty passage, a block over its limit): their
    # sentences are written for the model, and read as well for a caller.
    (SearchError, 400),
    (MemoryEditError, 400),
]


def _drop_unfinished_imports(client: MemGPT) -> None:
    try:
        if dropped := client.store.drop_unfinished_imports():
            log.warning("Deleted %d agent import(s) a crash left unfinished.", dropped)
    except Exception:  # the next start tries again
        log.exception("Could not delete unfinished agent imports")


def _load_deferred() -> None:
    for module in DEFERRED:
        import_module(module)


def create_app(settings: ServerSettings | None = None, *, store: Store | None = None) -> FastAPI:
    settings = settings or ServerSettings()
    settings.check()
    client = MemGPT(settings.database, store=store)
    accounts = accounts_for(client.store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.scheduler.start()
        async with app.state.mcp.running():
            app.state.deferred = threading.Thread(target=_load_deferred, daemon=True)
            app.state.deferred.start()
            yield
        app.state.scheduler.stop()
        app.state.steps.pool.shutdown(wait=False, cancel_futures=True)
        app.state.tool_runs.close()
        app.state.imports.close()
        app.state.sources.close()
        client.close()

    app = FastAPI(
        lifespan=lifespan,
        title="memgpt",
        version=version("memgpt"),
        description="MemGPT agents over a REST API shaped like Letta's, plus OpenAI-compatible chat.",
        dependencies=[Depends(refuse_nul)],
    )
    app.state.settings = settings
    app.state.accounts = accounts
    app.state.service = AgentService(client, accounts, settings)
    app.state.scheduler = Scheduler(
        app.state.service, settings.scheduler_tick_s, settings.sleeptime_idle_s
    )
    app.state.steps = StepRunner(settings.step_workers)
    app.state.runs = RunService(app.state.service, app.state.steps)
    app.state.tool_runs = WorkPool("tool runs", settings.tool_workers, settings.tools_per_org)
    app.state.imports = WorkPool("imports", settings.import_workers, settings.imports_per_org)
    # Imports a crash cut short, deleted in the background: a start never waits on them.
    app.state.dropped_imports = app.state.imports.pool.submit(_drop_unfinished_imports, client)
    sandbox.MEMORY.total = settings.sandbox_memory_bytes
    app.state.sources = SourceService(app.state.service, settings)
    app.state.anonymous = ensure_anonymous_user(accounts) if settings.allow_anonymous else None
    app.add_middleware(Edge)

    for router in ROUTERS:
        # Not on the catch-all below: its 501 says more than a 400 for a parameter would.
        app.include_router(router, dependencies=[Depends(declared_query_only)])
    app.state.mcp = mount_mcp(app)

    for error, status in _STATUS:
        app.add_exception_handler(error, _handler(status))
    app.add_exception_handler(ModelCallError, _model_call_failed)
    app.add_exception_handler(TooBusyError, _too_busy)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _internal_error)

    @app.api_route(
        "/v1/{path:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    def not_implemented(path: str, request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "detail": f"memgpt does not implement {request.method} /v1/{path}; see /openapi.json."
            },
            status_code=501,
        )

    # Last, so every API route above answers first; the UI is plain files using that API.
    app.mount("/", StaticFiles(directory=STATIC, html=True), name="ui")
    return app


def _handler(status: int):
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status)

    return handle


async def _model_call_failed(request: Request, exc: ModelCallError) -> JSONResponse:
    # 502: the model behind this server failed. Not to be retried by the SDK: the turn has
    # ended and a retry would send the message again.
    return JSONResponse(
        {"detail": str(exc), **exc.result}, status_code=502, headers={"x-should-retry": "false"}
    )


async def _too_busy(request: Request, exc: TooBusyError) -> JSONResponse:
    return JSONResponse(
        {"detail": str(exc)}, status_code=429, headers={"retry-after": str(exc.retry_after_s)}
    )


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """A field memgpt does not implement is a 400 naming it (see requests.py); any other
    invalid input keeps FastAPI's 422."""
    errors = exc.errors()
    unknown = [f"`{_where(e)}`" for e in errors if e["type"] == "extra_forbidden"] + [
        # a kind of a tagged union memgpt lacks (a tool rule's `type`, say)
        f"`{_where(e)}` of type {e['ctx']['tag']!r}"
        for e in errors
        if e["type"] == "union_tag_invalid"
    ]
    if not unknown:
        return await request_validation_exception_handler(request, exc)
    names = ", ".join(unknown)
    return JSONResponse(
        {
            "detail": f"memgpt does not implement {names} in this request; remove "
            f"{'it' if len(unknown) == 1 else 'them'} (/openapi.json lists the fields each "
            "request takes)."
        },
        status_code=400,
    )


def _where(error: dict) -> str:
    return ".".join(map(str, error["loc"][1:]))


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
    # Starlette raises the error again once this is sent, and uvicorn then drops the
    # connection: saying so keeps a keep-alive client from sending its next request on it.
    return JSONResponse(
        {"detail": f"Internal server error ({type(exc).__name__}); see the server log."},
        status_code=500,
        headers={"connection": "close"},
    )
