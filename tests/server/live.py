"""Real memgpt servers in a thread for the tests: `in_thread` runs an app under uvicorn,
`live_server` under `memgpt server`'s own uvicorn settings with two organizations' keys,
for tests of what happens on the wire."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI

from memgpt.server.app import create_app
from memgpt.server.connections import ConnectionLimits
from memgpt.server.serve import uvicorn_options
from memgpt.server.settings import ServerSettings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def org_key(accounts: Any, name: str) -> str:
    """An API key of a new user alone in a new organization."""
    org = accounts.create_organization(f"org {name}")
    return accounts.create_api_key(accounts.create_user(org.id, f"user {name}").id)


@contextmanager
def in_thread(app: FastAPI, port: int, options: dict[str, Any] | None = None) -> Iterator[str]:
    """`app` served on 127.0.0.1:`port` (with these uvicorn options) until the block ends;
    yields its URL."""
    options = options or {"host": "127.0.0.1", "port": port, "log_level": "warning"}
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass
class Live:
    url: str
    port: int
    key_a: str
    key_b: str
    app: FastAPI


@contextmanager
def live_server(
    settings: ServerSettings, limits: ConnectionLimits | None = None, app: FastAPI | None = None
) -> Iterator[Live]:
    app = app or create_app(settings)
    keys = [org_key(app.state.accounts, name) for name in ("a", "b")]
    port = free_port()
    with in_thread(app, port, uvicorn_options("127.0.0.1", port, limits, "critical")) as url:
        yield Live(url, port, keys[0], keys[1], app)
