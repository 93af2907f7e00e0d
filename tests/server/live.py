"""A real memgpt server under `memgpt server`'s own uvicorn settings (`uvicorn_config`),
in a thread, with two organizations' keys, for tests of what happens on the wire."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from memgpt.server.app import create_app
from memgpt.server.connections import ConnectionLimits
from memgpt.server.serve import uvicorn_options
from memgpt.server.settings import ServerSettings
from tests.server.conftest import free_port


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
    accounts = app.state.accounts
    keys = []
    for name in ("a", "b"):
        org = accounts.create_organization(f"org {name}")
        keys.append(accounts.create_api_key(accounts.create_user(org.id, f"user {name}").id))
    port = free_port()
    options = uvicorn_options("127.0.0.1", port, limits, "critical")
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.02)
    try:
        yield Live(f"http://127.0.0.1:{port}", port, keys[0], keys[1], app)
    finally:
        server.should_exit = True
        thread.join(10)
