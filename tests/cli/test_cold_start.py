"""Cold start: `memgpt run` and `memgpt server` do not import what only some commands use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


# What only some steps need: a PDF, an MCP client or server, a web page or a model
# listing (httpx), a vector search (usearch), an embedding (numpy); and the local models,
# which load in threads.
HEAVY = ["pypdf", "mcp", "httpx", "usearch", "numpy", "llama_cpp", "onnxruntime"]


@pytest.mark.parametrize(
    ("module", "heavy"),
    [(m, h) for m in ("memgpt.cli.session", "memgpt.server.app") for h in HEAVY]
    # The server draws no progress bars, and reads agent files only to import or export.
    + [("memgpt.server.app", "rich"), ("memgpt.server.app", "memgpt.server.agentfile")]
    # `memgpt run` shows its prompt before the runtime loads (it opens behind the prompt).
    + [("memgpt.cli.chat", h) for h in ("memgpt.client", "memgpt.agent.agent", "memgpt.store")],
)
def test_starting_does_not_import(module: str, heavy: str) -> None:
    code = f"import sys, {module}; print({heavy!r} in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


SERVE_UNTIL_HEALTHY = """
import sys
from pathlib import Path
from fastapi.testclient import TestClient
from memgpt.server.app import create_app
from memgpt.server.settings import ServerSettings

settings = ServerSettings(database=Path(sys.argv[1]), allow_anonymous=True, embedding="hash")
with TestClient(create_app(settings), base_url="http://127.0.0.1") as http:
    assert http.get("/v1/health/").status_code == 200
    print("mcp" in sys.modules, end=" ")
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"Accept": "application/json, text/event-stream"}
    listed = http.post("/mcp", json=body, headers=headers).json()
    print("mcp" in sys.modules, "list_agents" in {t["name"] for t in listed["result"]["tools"]})
"""


def test_the_server_starts_without_the_mcp_sdk_and_loads_it_for_mcp(tmp_path: Path) -> None:
    """The SDK takes seconds to import: the server is ready first, /mcp loads it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "MEMGPT_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", SERVE_UNTIL_HEALTHY, str(tmp_path / "memgpt.db")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True", "True"]


SERVE_AND_LOAD_DEFERRED = """
import sys
from pathlib import Path
from fastapi.testclient import TestClient
from memgpt.server.app import DEFERRED, create_app
from memgpt.server.settings import ServerSettings

settings = ServerSettings(database=Path(sys.argv[1]), allow_anonymous=True, embedding="hash")
app = create_app(settings)
print(any(m in sys.modules for m in DEFERRED), end=" ")
with TestClient(app, base_url="http://127.0.0.1") as http:
    assert http.get("/v1/health/").status_code == 200
    app.state.deferred.join(60)
    print(all(m in sys.modules for m in DEFERRED))
"""


def test_the_server_loads_what_it_deferred_once_it_is_up(tmp_path: Path) -> None:
    """numpy is not needed to start, but the first agent needs it: it loads behind the start."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "MEMGPT_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", SERVE_AND_LOAD_DEFERRED, str(tmp_path / "memgpt.db")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]
