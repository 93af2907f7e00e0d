"""The routes the web UI adds to Letta's API, over plain HTTP (no browser needed)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.server.conftest import POLICY


@pytest.fixture
def http(ui_server):
    with httpx.Client(base_url=ui_server.url, timeout=30) as c:
        yield c


@pytest.fixture
def agent(http, request):
    return http.post("/v1/agents/", json={"name": request.node.name, "model": POLICY}).json()["id"]


def test_the_ui_is_served_at_the_root(http):
    page = http.get("/")
    assert page.status_code == 200 and '<script type="module" src="js/app.js">' in page.text
    assert http.get("/js/app.js").headers["content-type"].split(";")[0].endswith("javascript")
    assert http.get("/v1/nothing-here").status_code == 501  # API paths never fall through


def test_context_counts_every_section(http, agent):
    before = http.get(f"/v1/agents/{agent}/context").json()
    http.post(f"/v1/agents/{agent}/messages", json={"input": "hello"})
    after = http.get(f"/v1/agents/{agent}/context").json()
    sections = [k for k in after if k.startswith("num_tokens_")]
    assert after["context_window_size_current"] == sum(after[k] for k in sections)
    assert after["num_tokens_messages"] > before["num_tokens_messages"] == 0
    assert after["num_messages"] == after["num_recall_memory"] == 3  # message, reply, nothing else
    assert after["first_in_context_message_id"] is not None
    assert 0 < after["memory_warning_tokens"] < after["context_window_size_max"]


def test_context_counts_open_files_as_a_section(http, agent):
    folder = http.post("/v1/folders/", json={"name": f"f-{agent[-6:]}"}).json()["id"]
    upload = {"file": ("tide.txt", b"High tide at noon.\nLow tide at six.", "text/plain")}
    file_id = http.post(f"/v1/folders/{folder}/upload", files=upload).json()["id"]
    deadline = datetime.now(UTC) + timedelta(seconds=20)
    while http.get(f"/v1/folders/{folder}/files/{file_id}").json()["processing_status"] not in (
        "completed",
        "error",
    ):
        assert datetime.now(UTC) < deadline
        time.sleep(0.05)
    http.patch(f"/v1/agents/{agent}/folders/attach/{folder}")
    grepped = http.post(f"/v1/agents/{agent}/messages", json={"input": "grep tide"}).json()
    # The reply reporting the grep (a memory-pressure alert may be answered after it).
    report = next(m["content"] for m in grepped["messages"] if "=== " in m.get("content", ""))
    name = report.split("=== ", 1)[1].split(":", 1)[0]
    http.post(f"/v1/agents/{agent}/messages", json={"input": f"open {name}"})
    context = http.get(f"/v1/agents/{agent}/context").json()
    sections = [k for k in context if k.startswith("num_tokens_")]
    assert context["context_window_size_current"] == sum(context[k] for k in sections)
    assert context["num_tokens_open_files"] > 0
    http.patch(f"/v1/agents/{agent}/folders/detach/{folder}")
    assert http.get(f"/v1/agents/{agent}/context").json()["num_tokens_open_files"] == 0


def test_block_history_has_actor_time_and_word_diff(http, agent):
    http.post(f"/v1/agents/{agent}/messages", json={"input": "remember owns a cat"})
    blocks = f"/v1/agents/{agent}/core-memory/blocks"
    old = http.get(f"{blocks}/human").json()["value"]
    http.patch(f"{blocks}/human", json={"value": old.replace("cat", "dog")})
    newest, agent_edit = http.get(f"{blocks}/human/history").json()
    assert (newest["actor"], agent_edit["actor"]) == ("user", "agent")
    assert ["-", "cat"] in newest["diff"] and ["+", "dog"] in newest["diff"]
    assert ["+", "\nowns a cat"] in agent_edit["diff"]
    assert datetime.fromisoformat(newest["created_at"]) >= datetime.fromisoformat(
        agent_edit["created_at"]
    )
    assert http.get(f"{blocks}/nope/history").status_code == 404


def test_recall_by_text_and_date_range(http, agent):
    for text in ("apples are red", "bananas are yellow"):
        http.post(f"/v1/agents/{agent}/messages", json={"input": text})
    recall = f"/v1/agents/{agent}/recall"
    today = datetime.now(UTC).date()
    everything = http.get(recall).json()
    assert everything["total"] == 4 and everything["results"][0]["text"] == "apples are red"
    assert [r["from"] for r in everything["results"]] == ["user", "agent", "user", "agent"]
    found = http.get(recall, params={"query": "bananas"}).json()
    assert {r["text"] for r in found["results"]} == {
        "bananas are yellow",
        "echo: bananas are yellow",
    }
    assert (found["total"], found["more"]) == (2, False)
    dated = {"query": "bananas", "start_date": str(today), "end_date": str(today)}
    assert http.get(recall, params=dated).json()["total"] == 2
    past = {"query": "bananas", "end_date": str(today - timedelta(days=1))}
    assert http.get(recall, params=past).json()["total"] == 0


def test_recall_by_words_is_also_by_meaning_as_conversation_search(http, agent):
    for text in ("apples are red", "we were there"):
        http.post(f"/v1/agents/{agent}/messages", json={"input": text})
    recall = f"/v1/agents/{agent}/recall"
    # "were" is a stopword: by words, "kiwis were" looks for kiwis alone and finds none,
    # while the (hashed) meaning of "were" is near "we were there".
    deadline = datetime.now(UTC) + timedelta(seconds=20)
    while not (found := http.get(recall, params={"query": "kiwis were"}).json())["results"]:
        assert datetime.now(UTC) < deadline  # the messages are embedded behind the step
        time.sleep(0.05)
    assert found["results"][0]["text"] in ("we were there", "echo: we were there")
    assert "apples are red" not in {r["text"] for r in found["results"]}


def test_archival_hybrid_search_reports_scores(http, agent):
    http.post(f"/v1/agents/{agent}/messages", json={"input": "archive the vault opens at noon"})
    search = f"/v1/agents/{agent}/archival-memory/hybrid-search"
    hit = http.get(search, params={"query": "vault noon"}).json()["results"][0]
    assert hit["text"] == "the vault opens at noon" and hit["source"] is None
    assert hit["score"] > 0 and hit["vector_rank"] == hit["text_rank"] == 1
    assert http.get(search, params={"query": " "}).status_code == 400
    assert http.get(search, params={"query": "x", "source_id": "source-nope"}).status_code == 404


def test_a_shared_block_names_the_agents_sharing_it_and_who_edited_it(http, agent):
    block = http.post("/v1/blocks/", json={"label": "team", "value": "Team: red"}).json()
    other = http.post(
        "/v1/agents/", json={"name": "teammate", "model": POLICY, "block_ids": [block["id"]]}
    ).json()["id"]
    http.patch(f"/v1/agents/{agent}/core-memory/blocks/attach/{block['id']}").raise_for_status()
    assert http.get(f"/v1/agents/{agent}/core-memory/shared").json() == {
        block["id"]: [{"id": other, "name": "teammate"}]
    }
    http.post(f"/v1/agents/{other}/messages", json={"input": "note team Lead: Ana"})
    (edit,) = http.get(f"/v1/agents/{agent}/core-memory/blocks/team/history").json()
    assert (edit["actor"], edit["agent_id"], edit["agent_name"]) == ("agent", other, "teammate")
    assert ["+", "\nLead: Ana"] in edit["diff"]
