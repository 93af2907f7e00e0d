"""Who is calling: an API key names a user, and the user's organization owns what they
create. Every resource route resolves its resource through the caller's organization, so
another organization's agent, tool or passage answers 404 exactly as a missing one does:
existence does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, Request
from starlette.datastructures import Headers, State

from memgpt.store.accounts import ANONYMOUS_ORG, ANONYMOUS_USER, AccountStore


@dataclass(frozen=True)
class Principal:
    user_id: str
    organization_id: str


def bearer_token(headers: Headers) -> str | None:
    """The key from `Authorization: Bearer ...` (both SDK lines) or `X-API-Key`."""
    header = headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return headers.get("x-api-key") or None


def ensure_anonymous_user(accounts: AccountStore) -> Principal:
    """The one local user that key-less requests act as, created on first use."""
    user = accounts.get_user(ANONYMOUS_USER)
    if user is None:
        accounts.ensure_organization(ANONYMOUS_ORG, "local")
        user = accounts.ensure_user(ANONYMOUS_USER, ANONYMOUS_ORG, "local")
    return Principal(user.id, user.organization_id)


async def authenticate(request: Request) -> Principal:
    """FastAPI dependency: the caller, or 401. It runs on the event loop (one indexed read)
    rather than in a thread, so requests reach their handlers in the order they arrived,
    which is the order an agent's queue keeps. A request with a body was authenticated
    already, before its body was read (`edge`)."""
    known = getattr(request.state, "principal", None)
    return known or principal_from_headers(request.app.state, request.headers)


def principal_from_headers(state: State, headers: Headers) -> Principal:
    """The caller the headers name, or HTTPException 401."""
    token = bearer_token(headers)
    if token is None:
        if state.anonymous is not None:
            return state.anonymous
        raise HTTPException(
            401, "An API key is required: send it as `Authorization: Bearer <key>`."
        )
    user = state.accounts.authenticate(token)
    if user is None:
        # With anonymous access on, a stray key is still an error: the caller meant a user.
        raise HTTPException(
            401, "The API key is not valid; create one with `memgpt server create-key`."
        )
    return Principal(user.id, user.organization_id)
