"""An agent-file import written in many short transactions is still all or nothing to
clients: a file refused halfway through its history leaves no agent, no tool and no row,
and an import a crash cut short is deleted when the server starts again."""

from __future__ import annotations

import json
import uuid

import pytest

from memgpt.schemas import AgentState, Message
from memgpt.server.app import create_app
from memgpt.server.settings import ServerSettings
from tests.server.conftest import POLICY

TOOL = "def {name}(text: str) -> str:\n    '''Say it back.'''\n    return text\n"


def _rows(store) -> dict[str, int]:
    tables = ("agents", "messages", "blocks", "agent_imports", "agent_owners", "user_tools")
    return {t: store._one(f"SELECT COUNT(*) AS n FROM {t}")["n"] for t in tables}


@pytest.fixture
def with_tool_and_history(http_a) -> dict:
    """An export with a custom tool and a history of 300 messages: several batches."""
    name = f"af_{uuid.uuid4().hex[:8]}"
    tool = http_a.post("/v1/tools/", json={"source_code": TOOL.format(name=name)}).json()
    agent_id = http_a.post("/v1/agents/", json={"name": name}).json()["id"]
    http_a.patch(f"/v1/agents/{agent_id}/tools/attach/{tool['id']}").raise_for_status()
    http_a.post(f"/v1/agents/{agent_id}/messages", json={"input": "hello"}).raise_for_status()
    data = http_a.get(f"/v1/agents/{agent_id}/export").json()
    http_a.delete(f"/v1/tools/{tool['id']}").raise_for_status()  # so the import adds it
    message = data["agents"][0]["messages"][0]
    data["agents"][0]["messages"] = [message] * 300
    return data


def test_a_file_refused_halfway_through_its_history_leaves_nothing(
    server, http_a, with_tool_and_history
):
    data = with_tool_and_history
    data["agents"][0]["messages"][250] = {**data["agents"][0]["messages"][0], "role": "root"}
    store = server.app.state.service.store
    before = _rows(store), http_a.get("/v1/agents/").json(), http_a.get("/v1/tools/").json()
    upload = {"file": ("a.af", json.dumps(data).encode(), "application/json")}
    refused = http_a.post("/v1/agents/import", files=upload)
    assert refused.status_code == 400, refused.text
    assert "agents.0.messages.250.role" in refused.json()["detail"]
    after = _rows(store), http_a.get("/v1/agents/").json(), http_a.get("/v1/tools/").json()
    assert after == before


def test_the_same_file_whole_imports_with_its_tool(server, http_a, with_tool_and_history):
    upload = {"file": ("a.af", json.dumps(with_tool_and_history).encode(), "application/json")}
    made = http_a.post("/v1/agents/import", files=upload)
    assert made.status_code == 200, made.text
    (agent_id,) = made.json()["agent_ids"]
    assert http_a.get(f"/v1/agents/{agent_id}/context").status_code == 200
    messages = http_a.get(f"/v1/agents/{agent_id}/messages", params={"limit": 1000}).json()
    assert len(messages) >= 300
    names = [t["name"] for t in http_a.get(f"/v1/agents/{agent_id}/tools").json()]
    assert any(n.startswith("af_") for n in names)


def test_a_start_deletes_an_import_a_crash_cut_short(tmp_path):
    settings = ServerSettings(database=tmp_path / "memgpt.db", model=POLICY, embedding="hash")
    first = create_app(settings)
    store = first.state.service.store
    cut = AgentState(name="cut", system="s", blocks=[])
    with store.transaction():  # as an import leaves it when the process dies mid-history
        store.create_agent(cut)
        store.begin_import(cut.id)
    with store.unsynced_transaction():
        store.append_messages(cut.id, [Message(role="user", text="hi") for _ in range(40)])
    first.state.imports.close()
    store.close()

    again = create_app(settings)
    again.state.dropped_imports.result(timeout=30)
    assert again.state.service.store.get_agent(cut.id) is None
    assert _rows(again.state.service.store)["messages"] == 0
    again.state.service.store.close()


def test_imported_agents_are_invisible_until_the_import_ends(server, http_a):
    """While an import is being written its agent is no organization's: the API cannot
    list or address it (here, an import stopped before its last transaction)."""
    store = server.app.state.service.store
    hidden = AgentState(name="hidden", system="s", blocks=[])
    with store.transaction():
        store.create_agent(hidden)
        store.begin_import(hidden.id)
    try:
        assert hidden.id not in [a["id"] for a in http_a.get("/v1/agents/").json()]
        assert http_a.get(f"/v1/agents/{hidden.id}").status_code == 404
        sent = http_a.post(f"/v1/agents/{hidden.id}/messages", json={"input": "hi"})
        assert sent.status_code == 404
    finally:
        store.drop_import(hidden.id)
