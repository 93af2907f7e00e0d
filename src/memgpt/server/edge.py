"""What a request must pass before the application does any work for it (DESIGN
invariant 9), as one ASGI middleware in front of FastAPI:

1. In local mode (`--no-auth`), the Host must be a loopback name and an Origin, when
   sent, the server's own page: otherwise any web page could reach the server, through
   DNS rebinding or a form posted across origins.
2. A request with a body is authenticated from its headers before a byte of the body is
   read, so an unauthenticated caller costs neither memory nor parsing.
3. A JSON body is read here, up to the server's limit (413 past it, also at once for a
   declared length over it), before FastAPI parses it. Uploads stream to disk against
   their own limit (`uploads`).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memgpt.server.auth import principal_from_headers
from memgpt.server.mcp_endpoint import MCP_PATH
from memgpt.server.settings import is_loopback

# Multipart uploads, read by hand against the upload limit rather than the JSON one.
UPLOADS = re.compile(r"^/v1/(agents/import|(sources|folders)/[^/]+/upload)/?$")


def _refusal(status: int, detail: str) -> JSONResponse:
    # The body was not read: closing tells the client not to send the rest on this
    # connection, rather than leaving it to find that out from a reset.
    return JSONResponse({"detail": detail}, status_code=status, headers={"connection": "close"})


def json_too_large(limit: int) -> str:
    return (
        f"The request body is over the server's {limit:,}-byte limit for JSON; send less, "
        "or start the server with a larger --max-json-mb."
    )


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length", "0")
    return "transfer-encoding" in request.headers or not length.isdigit() or int(length) > 0


def foreign_caller(request: Request) -> str | None:
    """Why a key-less request may not come from where it does, or None when it may."""
    host = urlsplit(f"//{request.headers.get('host', '')}").hostname or ""
    if not is_loopback(host):
        return (
            "This server takes requests without an API key only for a loopback Host, not "
            f"{host!r}; open it at http://127.0.0.1 or http://localhost."
        )
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.headers['host']}":
        return (
            f"This server takes requests without an API key only from its own page, not from "
            f"{origin!r}; open the page it serves instead."
        )
    return None


class Edge:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        state = scope["app"].state
        request = Request(scope)
        if state.anonymous is not None and (why := foreign_caller(request)):
            return await _refusal(403, why)(scope, receive, send)
        if not _has_body(request):
            return await self.app(scope, receive, send)
        if scope["path"].startswith("/v1/") or scope["path"] == MCP_PATH:
            try:
                scope.setdefault("state", {})["principal"] = principal_from_headers(
                    state, request.headers
                )
            except HTTPException as exc:
                return await _refusal(exc.status_code, exc.detail)(scope, receive, send)
        if UPLOADS.match(scope["path"]):
            return await self.app(scope, receive, send)
        limit = state.settings.max_json_bytes
        body = await _read(request, receive, limit)
        if body is None:
            return await _refusal(413, json_too_large(limit))(scope, receive, send)
        await self.app(scope, _replay(body, receive), send)


async def _read(request: Request, receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is known to be over `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: nothing to answer
            return bytes(body)
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return bytes(body)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body read, then what the connection says next."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        message: dict[str, Any] = {"type": "http.request", "body": body, "more_body": False}
        return message

    return replayed
