"""A real memgpt server on 127.0.0.1 in a background thread, with scripted models,
the hash embedder, and two users in two organizations (plus key-less local access)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from memgpt.server.app import create_app
from memgpt.server.settings import ServerSettings
from tests.store.backends import BACKENDS, store_opener

POLICY = "scripted/tests.server.policies:agent"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    key_a: str
    key_b: str
    app: object


@pytest.fixture(scope="session", params=BACKENDS)
def server(request, tmp_path_factory):
    """The same server on each store backend: every server test runs on SQLite and PostgreSQL."""
    db = tmp_path_factory.mktemp("server") / "memgpt.db"
    settings = ServerSettings(
        port=free_port(), database=db, allow_anonymous=True, model=POLICY, embedding="hash"
    )
    store = None if request.param == "sqlite" else store_opener(request.param, db.parent)()
    app = create_app(settings, store=store)
    accounts = app.state.accounts
    keys = []
    for name in ("a", "b"):
        org = accounts.create_organization(f"org {name}")
        keys.append(accounts.create_api_key(accounts.create_user(org.id, f"user {name}").id))
    config = uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{settings.port}"
    deadline = time.monotonic() + 20
    while not uv.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.02)
    yield Server(url, keys[0], keys[1], app)
    uv.should_exit = True
    thread.join(10)


@pytest.fixture
def http_a(server):
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.key_a}"}
    ) as c:
        yield c
