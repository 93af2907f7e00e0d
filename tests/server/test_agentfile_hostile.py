"""Hostile agent files (.af): every file is refused whole with a 4xx and one sentence, or
imported with what it names kept as inert text. Nothing in a file makes the server open,
write or import anything, nothing it names reaches beyond the new agent (another tool's
code, this server's API keys), and a refused file leaves nothing half-imported."""

from __future__ import annotations

import copy
import json
import sys
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient

from memgpt.server.app import create_app
from memgpt.server.settings import ServerSettings
from tests.server.conftest import POLICY

HEAD = b'{"metadata": {"format": "memgpt-agent-file/1"}, "agents": '
TOOL = "def {name}(text: str) -> str:\n    '''Say it back.'''\n    return {body}\n"


@pytest.fixture
def exported(http_a) -> dict:
    """A memgpt export: one agent with a custom tool, two blocks and a few messages."""
    name = f"af_{uuid.uuid4().hex[:8]}"
    tool = http_a.post("/v1/tools/", json={"source_code": TOOL.format(name=name, body="text")})
    agent_id = http_a.post("/v1/agents/", json={"name": name}).json()["id"]
    http_a.patch(f"/v1/agents/{agent_id}/tools/attach/{tool.json()['id']}").raise_for_status()
    http_a.post(f"/v1/agents/{agent_id}/messages", json={"input": "hello"}).raise_for_status()
    return http_a.get(f"/v1/agents/{agent_id}/export").json()


def _import(http: httpx.Client, data, **fields: str) -> httpx.Response:
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    upload = {"file": ("agent.af", body, "application/json")}
    return http.post("/v1/agents/import", files=upload, data=fields)


def _census(http: httpx.Client) -> tuple:
    """What the caller's organization holds."""
    agents = sorted(a["id"] for a in http.get("/v1/agents/").json())
    tools = sorted((t["name"], t["source_code"]) for t in http.get("/v1/tools/").json())
    sources = sorted(s["id"] for s in http.get("/v1/sources/").json())
    return agents, tools, sources


def _agent(data: dict) -> dict:
    return data["agents"][0]


def _second_agent_is_bad(data: dict) -> None:
    bad = copy.deepcopy(_agent(data))
    bad["block_ids"].append("block-missing")
    data["agents"].append(bad)


def _same_label_twice(data: dict) -> None:
    data["blocks"].append({**data["blocks"][0], "id": "block-again"})
    _agent(data)["block_ids"].append("block-again")


def _unknown_base_tool(data: dict) -> None:
    data["tools"].append({"id": "tool-x", "name": "rm_rf", "tool_type": "letta_core"})
    _agent(data)["tool_ids"].append("tool-x")


def _llm(data: dict) -> dict:
    return _agent(data)["memgpt"]["llm"]


REFUSED = {
    "a list": (lambda d: [d], "not a memgpt agent file"),
    "metadata not an object": (lambda d: {**d, "metadata": ["memgpt-agent-file/1"]}, "not a"),
    "agents not a list": (lambda d: {**d, "agents": "agent-0"}, "agents"),
    "agents a number": (lambda d: {**d, "agents": 5}, "agents"),
    "messages not a list": (lambda d: _agent(d).update(messages={"id": "m"}), "messages"),
    "no agents": (lambda d: {**d, "agents": []}, "agents"),
    "system a number": (lambda d: _agent(d).update(system=5), "agents.0.system"),
    "unknown role": (lambda d: _agent(d)["messages"][0].update(role="root"), "role"),
    "time without a zone": (
        lambda d: _agent(d)["messages"][0].update(created_at="2024-01-01T00:00:00"),
        "timezone",
    ),
    "block limit negative": (lambda d: d["blocks"][0].update(limit=-1), "greater than 0"),
    "window zero": (lambda d: _llm(d).update(context_window=0), "greater than 0"),
    "duplicate block ids": (lambda d: d["blocks"].append(d["blocks"][0]), "two blocks with id"),
    "duplicate tool ids": (lambda d: d["tools"].append(d["tools"][-1]), "two tools with id"),
    "missing block": (lambda d: _agent(d)["block_ids"].append("block-9"), "does not have"),
    "missing tool": (lambda d: _agent(d)["tool_ids"].append("tool-9"), "does not have"),
    "same label twice": (_same_label_twice, "labels must differ"),
    "unknown base tool": (_unknown_base_tool, "not a memgpt base function"),
    "second agent bad": (_second_agent_is_bad, "does not have"),
    "NUL in a message": (
        lambda d: _agent(d)["messages"][0]["content"][0].update(text="a\x00b"),
        "NUL",
    ),
    "NUL in a block": (lambda d: d["blocks"][0].update(value="\x00"), "NUL"),
    # The model's and embedding's URL and key variable: the server would send its own API
    # key (or any environment variable it holds) to the file's address.
    "model elsewhere": (
        lambda d: _llm(d).update(base_url="https://attacker.example/v1", api_key_env="HOME"),
        "base_url or api_key_env",
    ),
    "embedding elsewhere": (
        lambda d: _agent(d)["memgpt"]["embedding"].update(base_url="https://attacker.example"),
        "base_url or api_key_env",
    ),
    # A model file opens a path on the server; its error would tell which files exist.
    "model file": (
        lambda d: _llm(d).update(provider="local", provider_name="local", model="/etc/passwd"),
        "does not let callers choose",
    ),
    "unnamed provider this server lacks": (
        lambda d: _llm(d).update(provider="mystery", provider_name=None),
        "Unknown provider 'mystery'; use one of the configured providers",
    ),
    "provider this server lacks": (
        lambda d: _llm(d).update(provider_name="elsewhere"),
        "Unknown provider 'elsewhere'; use one of the configured providers: openai, anthropic",
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_bad_file_is_refused_whole(http_a, exported, case):
    mutate, says = REFUSED[case]
    data = copy.deepcopy(exported)
    data = mutate(data) or data  # a mutation edits the file in place or returns a new one
    before = _census(http_a)
    response = _import(http_a, data)
    assert 400 <= response.status_code < 500, response.text
    assert says in response.json()["detail"]
    assert _census(http_a) == before


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"\xff\xfe not utf-8", "not JSON"),
        # Past Python's recursion limit, then past the 100 levels the import walks.
        (HEAD + b"[" * 100_000 + b"]" * 100_000 + b"}", "not JSON"),
        (HEAD + b"[" * 200 + b"]" * 200 + b"}", "nested"),
    ],
)
def test_a_file_that_is_not_json_or_nested_too_deep_is_refused(http_a, body, says):
    response = _import(http_a, body)
    assert response.status_code == 400, response.text
    assert says in response.json()["detail"]


def test_a_nul_in_a_form_field_is_refused(http_a, exported):
    response = _import(http_a, exported, name="a\x00b")
    assert response.status_code == 400 and "NUL" in response.json()["detail"]


def test_a_scripted_policy_the_server_did_not_choose_is_never_imported(http_a, exported):
    # `this` prints the Zen of Python on import; any module would run its own code.
    assert "this" not in sys.modules
    data = copy.deepcopy(exported)
    _llm(data).update(provider="scripted", model="this:s")
    response = _import(http_a, data)
    assert response.status_code == 400 and "does not let callers choose" in response.text
    assert "this" not in sys.modules


def test_an_import_never_replaces_another_tool(http_a, exported):
    tool = next(t for t in exported["tools"] if t.get("source_code"))
    data = copy.deepcopy(exported)
    tool_copy = next(t for t in data["tools"] if t["id"] == tool["id"])
    tool_copy["source_code"] = TOOL.format(name=tool["name"], body="'pwned'")
    before = _census(http_a)
    response = _import(http_a, data)
    assert response.status_code == 409 and "differs" in response.json()["detail"]
    assert _census(http_a) == before  # the organization's tool keeps its code


def test_paths_and_unknown_keys_are_kept_as_text_and_never_opened(http_a, exported, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the secret contents")
    data = copy.deepcopy(exported)
    agent = _agent(data)
    agent["name"] = "../../etc/passwd"
    agent["tags"] = [str(secret), "..\\..\\windows"]
    agent["memgpt"]["summary"] = str(secret)
    agent["messages"][0]["content"][0]["text"] = f"file://{secret}"
    data["blocks"][0]["label"] = "../../blocks"
    data["blocks"][0]["value"] = str(tmp_path / "written")
    # Letta's own entities name files and folders; memgpt imports none of them.
    data["sources"] = [{"id": "source-0", "name": str(tmp_path / "source")}]
    data["files"] = [{"id": "file-0", "source_id": "source-0", "file_path": str(secret)}]
    agent["source_ids"] = ["source-0"]
    agent["tool_exec_environment_variables"] = {"HOME": str(tmp_path)}
    data["unknown"] = {"path": str(secret)}
    before = _census(http_a)

    response = _import(http_a, data, name="../copy")
    assert response.status_code == 200, response.text
    [copy_id] = response.json()["agent_ids"]
    copied = http_a.get(f"/v1/agents/{copy_id}/export").json()
    assert _agent(copied)["name"] == "../copy"
    assert _agent(copied)["tags"] == [str(secret), "..\\..\\windows"]
    assert _agent(copied)["memgpt"]["summary"] == str(secret)
    assert "../../blocks" in [b["label"] for b in copied["blocks"]]
    assert "the secret contents" not in json.dumps(copied)
    assert http_a.get(f"/v1/agents/{copy_id}/sources").json() == []
    assert _census(http_a)[2] == before[2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.txt"]


def test_lone_surrogates_become_replacement_characters(http_a, exported):
    data = json.dumps(exported).replace('"text": "hello"', '"text": "hello \\ud800"', 1)
    response = _import(http_a, data.encode())
    assert response.status_code == 200, response.text
    [copy_id] = response.json()["agent_ids"]
    users = [
        m["content"]
        for m in http_a.get(f"/v1/agents/{copy_id}/messages").json()
        if m["message_type"] == "user_message"
    ]
    assert "hello \ufffd" in users


def test_a_file_over_the_upload_limit_is_413_before_it_is_read(tmp_path):
    settings = ServerSettings(
        database=tmp_path / "db",
        allow_anonymous=True,
        model=POLICY,
        embedding="hash",
        max_upload_bytes=1000,
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        big = {"metadata": {"format": "memgpt-agent-file/1"}, "agents": [], "pad": "x" * 50_000}
        response = _import(client, big)
        assert response.status_code == 413 and "limit" in response.json()["detail"]
        assert client.get("/v1/agents/").json() == []
