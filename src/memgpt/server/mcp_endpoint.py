"""The MCP endpoint at /mcp on `memgpt server`, started on its first request.

The `mcp` SDK takes seconds of CPU to import (its protocol types are pydantic models),
most servers never see an MCP client, and the server answers no request until its
lifespan has started: so the SDK is imported, and the MCP server (`mcp_server`) built,
only when a request for /mcp arrives, in a worker thread, while other requests go on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup, TaskStatus
from fastapi import FastAPI, HTTPException
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from memgpt.server.auth import Principal, principal_from_headers

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

MCP_PATH = "/mcp"


def _http_caller(ctx: Context) -> Principal:
    # `Endpoint` authenticated the request and left the caller in its scope.
    return ctx.request_context.request.state.principal


class Endpoint:
    """The MCP endpoint as an ASGI app: the caller from the API key (or the local user in
    `--no-auth` mode, whose Host and Origin `edge` has checked), or 401."""

    def __init__(self, app: FastAPI):
        self.app = app
        self.sessions: StreamableHTTPSessionManager | None = None
        self._tasks: TaskGroup | None = None
        self._starting = anyio.Lock()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """One lifespan of the app: the MCP sessions, once started, run in its task group
        (a session manager runs only once, and inside the task that started it)."""
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            yield
            tasks.cancel_scope.cancel()
        self._tasks = self.sessions = None

    async def _serve(self, *, task_status: TaskStatus[Any]) -> None:
        sessions = await anyio.to_thread.run_sync(self._build)
        async with sessions.run():
            task_status.started(sessions)
            await anyio.sleep_forever()

    def _build(self) -> StreamableHTTPSessionManager:
        # In a worker thread: the imports alone would hold up every other request.
        from mcp.server.transport_security import TransportSecuritySettings

        from memgpt.server.mcp_server import build

        server = build(self.app.state.service, self.app.state.steps, _http_caller)
        # Stateless JSON: each request stands alone, authenticated by itself, so no session
        # opened with one key can be used with another. DNS-rebinding checks are `edge`'s.
        server.streamable_http_app(
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        return server.session_manager

    async def _started(self) -> StreamableHTTPSessionManager:
        async with self._starting:
            if self.sessions is None:
                if self._tasks is None:
                    raise RuntimeError("the MCP endpoint serves only inside the app's lifespan")
                self.sessions = await self._tasks.start(self._serve)
        return self.sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.setdefault("state", {})
        if "principal" not in state:
            try:
                state["principal"] = principal_from_headers(
                    scope["app"].state, Headers(scope=scope)
                )
            except HTTPException as exc:
                refusal = JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
                return await refusal(scope, receive, send)
        sessions = await self._started()
        await sessions.handle_request(scope, receive, send)


def mount(app: FastAPI) -> Endpoint:
    """Serve MCP at /mcp on the app; its sessions run inside the app's lifespan."""
    endpoint = Endpoint(app)
    app.router.add_route(MCP_PATH, endpoint, methods=["GET", "POST", "DELETE"])
    return endpoint
