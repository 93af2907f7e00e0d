"""Requests that once gave a 500 or broke an agent for good: refused whole with a 4xx,
nothing left behind, and the agent keeps working."""

from __future__ import annotations

import copy
import json

import httpx
import pytest
from fastapi.testclient import TestClient

from memgpt.server.app import create_app
from memgpt.server.settings import ServerSettings
from memgpt.tools.sandbox import Isolation
from tests.server.conftest import POLICY

HUGE = [10**30, 2**70]


def _names(http: httpx.Client, name: str) -> list[str]:
    return [a["id"] for a in http.get("/v1/agents/", params={"name": name}).json()]


def _works(http: httpx.Client, agent_id: str) -> None:
    sent = http.post(f"/v1/agents/{agent_id}/messages", json={"input": "still here"})
    assert sent.status_code == 200, sent.text
    assert sent.json()["messages"][-1]["content"] == "echo: still here"


def test_a_failed_create_leaves_no_agent(http_a, request):
    name = request.node.name
    for _ in range(2):
        refused = http_a.post("/v1/agents/", json={"name": name, "tools": ["nope"]})
        assert refused.status_code == 404 and "no tool 'nope'" in refused.json()["detail"]
    assert _names(http_a, name) == []
    agent_id = http_a.post("/v1/agents/", json={"name": name, "tools": ["send_message"]}).json()
    assert _names(http_a, name) == [agent_id["id"]]
    chat = http_a.post(
        "/v1/chat/completions",
        json={"model": name, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert chat.status_code == 200


def test_a_failed_modify_changes_nothing(http_a, request):
    agent = http_a.post("/v1/agents/", json={"name": request.node.name}).json()
    path = f"/v1/agents/{agent['id']}"
    refused = http_a.patch(path, json={"name": "renamed", "system": "new", "tool_ids": ["nope"]})
    assert refused.status_code == 404
    bad_model = http_a.patch(path, json={"name": "renamed", "model": "nowhere/model"})
    assert bad_model.status_code == 400
    after = http_a.get(path).json()
    assert (after["name"], after["system"]) == (agent["name"], agent["system"])
    _works(http_a, agent["id"])


@pytest.mark.parametrize("number", HUGE)
def test_huge_numbers_on_create_are_4xx(http_a, request, number):
    name = request.node.name
    for body in (
        {"memory_blocks": [{"label": "notes", "value": "", "limit": number}]},
        {"memory_blocks": [{"label": "human", "value": "x", "limit": number}]},
        {"context_window_limit": number},
        {"llm_config": {"handle": POLICY, "context_window": number}},
    ):
        refused = http_a.post("/v1/agents/", json={"name": name, **body})
        assert refused.status_code == 422, refused.text
    assert _names(http_a, name) == []


@pytest.mark.parametrize("number", HUGE)
def test_huge_numbers_on_modify_are_4xx_and_the_agent_keeps_working(http_a, request, number):
    agent_id = http_a.post("/v1/agents/", json={"name": request.node.name}).json()["id"]
    block = http_a.patch(f"/v1/agents/{agent_id}/core-memory/blocks/human", json={"limit": number})
    assert block.status_code == 422
    window = http_a.patch(f"/v1/agents/{agent_id}", json={"context_window_limit": number})
    assert window.status_code == 422
    _works(http_a, agent_id)


def test_a_window_too_small_for_the_reply_is_refused(http_a, request):
    agent_id = http_a.post("/v1/agents/", json={"name": request.node.name}).json()["id"]
    small = http_a.patch(f"/v1/agents/{agent_id}", json={"context_window_limit": 1500})
    assert small.status_code == 400
    assert "more than half the context window (1500)" in small.json()["detail"]
    _works(http_a, agent_id)


@pytest.fixture
def exported(http_a, request) -> dict:
    agent_id = http_a.post("/v1/agents/", json={"name": request.node.name}).json()["id"]
    http_a.post(f"/v1/agents/{agent_id}/messages", json={"input": "hello"}).raise_for_status()
    return http_a.get(f"/v1/agents/{agent_id}/export").json()


def _llm(data: dict) -> dict:
    return data["agents"][0]["memgpt"]["llm"]


BAD_FILES = {
    "block limit 10^30": (lambda d: d["blocks"][0].update(limit=10**30), "blocks.0.limit"),
    "year 1 east of UTC": (
        lambda d: d["agents"][0]["messages"][0].update(created_at="0001-01-01T00:00:00+01:00"),
        "out of range",
    ),
    "timeout 1e308": (lambda d: _llm(d).update(timeout_s=1e308), "timeout_s"),
    "timeout infinite": (lambda d: _llm(d).update(timeout_s=float("inf")), "timeout_s"),
    "output tokens 1e30": (lambda d: _llm(d).update(max_output_tokens=1e30), "max_output"),
    "output past the window": (
        lambda d: _llm(d).update(context_window=4096, max_output_tokens=4000),
        "more than half the context window",
    ),
    "window 2^70": (lambda d: _llm(d).update(context_window=2**70), "context_window"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_an_agent_file_with_a_bad_number_is_refused_whole(http_a, exported, case):
    mutate, says = BAD_FILES[case]
    data = copy.deepcopy(exported)
    mutate(data)
    before = http_a.get("/v1/agents/").json()
    body = json.dumps(data).encode()  # inf as Infinity: Python's JSON reads it back
    refused = http_a.post("/v1/agents/import", files={"file": ("a.af", body, "application/json")})
    assert refused.status_code == 400 and says in refused.json()["detail"], refused.text
    assert http_a.get("/v1/agents/").json() == before


def test_the_exported_file_itself_imports_and_works(http_a, exported):
    body = json.dumps(exported).encode()
    made = http_a.post("/v1/agents/import", files={"file": ("a.af", body, "application/json")})
    assert made.status_code == 200, made.text
    _works(http_a, made.json()["agent_ids"][0])


# What a tool can write on the runner's stdout before leaving: never a 500.
FORGED = ["{}", "[]", '{"ok": false}', '{"ok": true}', '{"ok": true, "schema": 5}', "null"]
FORGER = "import os, sys\nsys.__stdout__.write({text!r})\nsys.__stdout__.flush()\nos._exit(0)\n"


@pytest.fixture(scope="module")
def unsandboxed(tmp_path_factory):
    """Tools run without bubblewrap (the forged answer is the same either way)."""
    settings = ServerSettings(
        database=tmp_path_factory.mktemp("forged") / "memgpt.db",
        allow_anonymous=True,
        model=POLICY,
        embedding="hash",
        tool_isolation=Isolation(disabled=True),
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        yield client


@pytest.mark.parametrize("text", FORGED)
def test_a_forged_tool_answer_is_a_failed_run_not_a_500(unsandboxed, text):
    at_load = FORGER.format(text=text) + "def forged() -> str:\n    return 'x'\n"
    created = unsandboxed.post("/v1/tools/", json={"source_code": at_load})
    assert created.status_code == 400, created.text
    assert created.json()["detail"].startswith("The tool source could not be loaded: ")
    at_run = "def forged() -> str:\n" + "".join(
        f"    {line}\n" for line in FORGER.format(text=text).splitlines()
    )
    ran = unsandboxed.post("/v1/tools/run", json={"source_code": at_run, "args": {}})
    assert ran.status_code == 200, ran.text
    assert ran.json()["status"] == "error"
