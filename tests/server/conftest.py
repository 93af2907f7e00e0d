"""A real memgpt server on 127.0.0.1 in a background thread, with scripted models,
the hash embedder, and two users in two organizations (plus key-less local access)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from memgpt.server.app import create_app
from memgpt.server.settings import ServerSettings
from tests.server.live import free_port, in_thread, org_key
from tests.store.backends import BACKENDS, store_opener

POLICY = "scripted/tests.server.policies:agent"


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
    keys = [org_key(app.state.accounts, name) for name in ("a", "b")]
    with in_thread(app, settings.port) as url:
        yield Server(url, keys[0], keys[1], app)


@pytest.fixture
def http_a(server):
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.key_a}"}
    ) as c:
        yield c
