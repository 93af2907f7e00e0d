"""User tools over the API run in the sandbox: a hostile tool gets nothing of the server's
and the server keeps answering; without bubblewrap, tools fail with one sentence."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from memgpt.server.app import create_app
from memgpt.server.settings import ServerSettings
from memgpt.tools.sandbox import Isolation
from tests.server.conftest import POLICY

ORDINARY = 'def shout(text: str) -> str:\n    """Say it louder."""\n    return text.upper()\n'

HOSTILE = """
def snoop(database: str, port: int) -> str:
    import json, os, socket

    def attempt(action):
        try:
            return action()
        except Exception as exc:
            return type(exc).__name__

    def fork():
        if os.fork() == 0:
            os._exit(0)
        return "forked"

    folder = os.path.dirname(database)
    return json.dumps({
        "database": attempt(lambda: open(database, "rb").read(16).decode(errors="replace")),
        "database folder": attempt(lambda: os.listdir(folder)),
        "write beside it": attempt(lambda: open(os.path.join(folder, "x"), "w").write("x")),
        "the server": attempt(lambda: socket.create_connection(("127.0.0.1", port), 2) and "in"),
        "secret": "sk-test-secret" in repr(dict(os.environ)),
        "fork": attempt(fork),
        "memory": attempt(lambda: len(bytearray(2**31))),
    })
"""


@pytest.mark.usefixtures("bwrap")
def test_a_hostile_tool_gets_nothing_and_the_server_keeps_working(server, http_a, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")  # the server's environment
    database = server.app.state.settings.database
    port = int(server.url.rsplit(":", 1)[1])
    args = {"database": str(database), "port": port}
    ran = http_a.post("/v1/tools/run", json={"source_code": HOSTILE, "args": args}).json()
    assert ran["status"] == "success", ran["tool_return"]
    assert json.loads(ran["tool_return"]) == {
        "database": "FileNotFoundError",
        "database folder": "FileNotFoundError",
        "write beside it": "FileNotFoundError",
        "the server": "ConnectionRefusedError",
        "secret": False,
        "fork": "PermissionError",
        "memory": "MemoryError",
    }
    created = http_a.post("/v1/tools/", json={"source_code": ORDINARY})
    assert created.status_code == 200 and created.json()["description"] == "Say it louder."
    ran = http_a.post("/v1/tools/run", json={"source_code": ORDINARY, "args": {"text": "hi"}})
    assert ran.json()["status"] == "success" and ran.json()["tool_return"] == "HI"
    assert http_a.delete(f"/v1/tools/{created.json()['id']}").status_code == 200


def test_without_bubblewrap_tools_cannot_be_created_or_run(tmp_path):
    settings = ServerSettings(
        database=tmp_path / "memgpt.db",
        allow_anonymous=True,
        model=POLICY,
        embedding="hash",
        tool_isolation=Isolation(bwrap=str(tmp_path / "no-bwrap")),
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        created = client.post("/v1/tools/", json={"source_code": ORDINARY})
        sentence = created.json()["detail"]
        assert created.status_code == 400
        assert sentence.startswith("User tools cannot run because bubblewrap (")
        assert sentence.endswith("install it (Debian and Ubuntu: apt-get install bubblewrap).")
        assert client.get("/v1/tools/", params={"name": "shout"}).json() == []
        body = {"source_code": ORDINARY, "args": {"text": "hi"}}
        ran = client.post("/v1/tools/run", json=body).json()
        assert ran["status"] == "error" and ran["tool_return"] == sentence
