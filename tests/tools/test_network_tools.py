"""A user tool reaches the network only when the operator marked it (config, not a REST
client's choice): then it shares the host's network namespace and stays confined in every
other way; an unmarked tool cannot reach even loopback."""

from __future__ import annotations

import textwrap

import pytest
from fastapi.testclient import TestClient

from memgpt.server.app import create_app
from memgpt.server.auth import ANONYMOUS_ORG
from memgpt.server.settings import ServerSettings
from memgpt.tools import sandbox
from tests.fakes.web_server import Page, web_server
from tests.server.conftest import POLICY

pytestmark = pytest.mark.usefixtures("bwrap")

# The port rides in `sides`, the argument the test policy's "use TOOL ARG" passes.
REACH = """
def {name}(sides: int) -> str:
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{{sides}}/", timeout=3) as page:
            return page.read().decode()
    except OSError as exc:
        return f"unreachable: {{type(exc).__name__}}"
"""


def _run(port: int, isolation: sandbox.Isolation) -> sandbox.ToolRun:
    return sandbox.run(REACH.format(name="reach"), "reach", {"sides": port}, isolation=isolation)


def test_a_network_tool_reaches_loopback_and_an_ordinary_one_cannot():
    with web_server({"/": Page(b"hello from the host", "text/plain")}) as site:
        port = int(site.url.rsplit(":", 1)[1])
        marked = _run(port, sandbox.Isolation(network=True))
        unmarked = _run(port, sandbox.SANDBOXED)
    assert marked.ok and marked.result == "hello from the host"
    assert unmarked.ok and unmarked.result.startswith("unreachable:")
    assert len(site.requests) == 1


def test_a_network_tool_is_otherwise_as_confined(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    source = textwrap.dedent(
        """
        def probe() -> str:
            import os, subprocess
            try:
                subprocess.run(["true"])
                spawned = "yes"
            except PermissionError:
                spawned = "refused"
            seen = [p for p in ("/home", "/etc/passwd", "/etc/shadow") if os.path.exists(p)]
            return f"{spawned} {seen} {sorted(os.environ)} {os.listdir('/tmp')}"
        """
    )
    marked = sandbox.run(source, "probe", {}, isolation=sandbox.Isolation(network=True))
    unmarked = sandbox.run(source, "probe", {}, isolation=sandbox.SANDBOXED)
    assert marked.ok and marked.result == unmarked.result
    assert marked.result.startswith("refused [] [") and "OPENAI_API_KEY" not in marked.result


def test_the_operator_marks_a_tool_in_config_and_the_agent_uses_it(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMGPT_NETWORK_TOOLS", f"{ANONYMOUS_ORG}/reach")
    settings = ServerSettings(
        database=tmp_path / "m.db", allow_anonymous=True, model=POLICY, embedding="hash"
    )
    with (
        web_server({"/": Page(b"weather: sunny", "text/plain")}) as site,
        TestClient(create_app(settings), base_url="http://127.0.0.1") as http,
    ):
        port = site.url.rsplit(":", 1)[1]
        for name in ("reach", "blocked"):
            made = http.post("/v1/tools/", json={"source_code": REACH.format(name=name)})
            assert made.status_code == 200, made.text
        agent = http.post("/v1/agents/", json={"name": "a", "tool_ids": ["reach", "blocked"]})
        url = f"/v1/agents/{agent.json()['id']}/messages"

        def reply(text: str) -> str:
            sent = http.post(url, json={"messages": [{"role": "user", "content": text}]})
            return [m for m in sent.json()["messages"] if m["message_type"] == "assistant_message"][
                -1
            ]["content"]

        assert reply(f"use reach {port}") == "done: weather: sunny"
        assert reply(f"use blocked {port}").startswith("done: unreachable:")
