"""`memgpt server`: run the API under uvicorn, and make API keys for it."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import uvicorn

from memgpt.server.connections import ConnectionLimits, TimedH11Protocol
from memgpt.server.settings import DEFAULT_PORT, ServerSettings
from memgpt.tools.sandbox import Isolation

# Idle keep-alive connections are closed by the client first: httpx (the SDKs' transport)
# drops them after 5 s, and with uvicorn's default of 5 s too, a client could send a
# request on a connection the server was closing that instant and get a reset for a
# message the server never read (the load test saw it). 75 s is nginx's default.
KEEP_ALIVE_S = 75


def serve(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    database: str | Path | None = None,
    allow_anonymous: bool = False,
    model: str | None = None,
    embedding: str | None = None,
    max_upload_bytes: int | None = None,
    max_json_bytes: int | None = None,
    connection_limits: ConnectionLimits | None = None,
    unsandboxed_tools: bool = False,
    agent_message_depth: int | None = None,
    agent_fan_out: int | None = None,
    sleeptime_frequency: int | None = None,
    sleeptime_idle_s: float | None = None,
    log_level: str = "info",
) -> None:
    """Serve until interrupted. Raises `ServerConfigError` for settings that cannot work."""
    from memgpt.server.app import create_app

    settings = ServerSettings(
        host=host,
        port=port,
        database=Path(database) if database else None,
        allow_anonymous=allow_anonymous,
        model=model,
        embedding=embedding,
        tool_isolation=Isolation(disabled=unsandboxed_tools),
    )
    if max_upload_bytes is not None:
        settings.max_upload_bytes = max_upload_bytes
    if max_json_bytes is not None:
        settings.max_json_bytes = max_json_bytes
    if agent_message_depth is not None:
        settings.agent_message_depth = agent_message_depth
    if agent_fan_out is not None:
        settings.agent_fan_out = agent_fan_out
    if sleeptime_frequency is not None:
        settings.sleeptime_frequency = sleeptime_frequency
    if sleeptime_idle_s is not None:
        settings.sleeptime_idle_s = sleeptime_idle_s
    app = create_app(settings)
    uvicorn.run(app, **uvicorn_options(host, port, connection_limits, log_level))


def uvicorn_options(
    host: str, port: int, limits: ConnectionLimits | None = None, log_level: str = "info"
) -> dict[str, Any]:
    """How uvicorn serves the app (`uvicorn.run` and `uvicorn.Config` take the same): h11
    with deadlines for headers and bodies and a cap on open connections (`connections`)."""
    return {
        "host": host,
        "port": port,
        "log_level": log_level,
        "timeout_keep_alive": KEEP_ALIVE_S,
        "http": partial(TimedH11Protocol, limits=limits or ConnectionLimits()),
    }


def create_key(
    organization: str, user: str, *, database: str | Path | None = None
) -> tuple[str, str, str]:
    """A new organization, a user in it and an API key for the user: (org id, user id, key).
    The key is shown once; only its hash is stored."""
    from memgpt.client import open_store
    from memgpt.store.accounts import accounts_for

    store = open_store(database)
    try:
        accounts = accounts_for(store)
        with store.transaction():
            org = accounts.create_organization(organization)
            member = accounts.create_user(org.id, user)
            key = accounts.create_api_key(member.id, "created by memgpt server create-key")
        return org.id, member.id, key
    finally:
        store.close()
