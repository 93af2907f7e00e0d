"""The operator's settings for tools (`[tools]` and `[web]` in config.toml, or the
environment): read and checked, and the web functions offered to agents only when on."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from memgpt import config
from memgpt.client import MemGPT
from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.base import ChatMessage, FunctionSchema, LLMReply
from memgpt.llm.scripted import ScriptedLLM, call
from memgpt.schemas import EmbeddingConfig
from memgpt.server.app import create_app
from memgpt.server.settings import ServerSettings
from tests.fakes.web_server import Page, web_server
from tests.server import policies

ENV = (
    "MEMGPT_NETWORK_TOOLS",
    "MEMGPT_WEB_FETCH",
    "MEMGPT_WEB_PRIVATE_ADDRESSES",
    "MEMGPT_SEARXNG_URL",
)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMGPT_HOME", str(tmp_path))
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_the_file_and_the_environment_set_them(home, monkeypatch):
    (home / "config.toml").write_text(
        '[tools]\nnetwork = ["org-1/weather"]\n\n'
        '[web]\nfetch = true\nsearxng_url = "http://searx.lan:8080"\n'
    )
    settings = config.load_settings()
    assert settings.network_tools == ["org-1/weather"]
    assert (settings.web_fetch, settings.web_private_addresses) == (True, False)
    assert settings.searxng_url == "http://searx.lan:8080"
    monkeypatch.setenv("MEMGPT_NETWORK_TOOLS", "org-1/a, org-2/b")
    monkeypatch.setenv("MEMGPT_WEB_PRIVATE_ADDRESSES", "yes")
    monkeypatch.setenv("MEMGPT_WEB_FETCH", "false")
    settings = config.load_settings()
    assert settings.network_tools == ["org-1/a", "org-2/b"]
    assert (settings.web_fetch, settings.web_private_addresses) == (False, True)
    config.save_settings(settings)
    assert config.read_file().network_tools == ["org-1/a", "org-2/b"]


@pytest.mark.parametrize(
    "text, says",
    [
        ('[tools]\nnetwork = ["weather"]\n', "give it as ORGANIZATION_ID/TOOL_NAME"),
        ('[tools]\nnetwork = "org-1/weather"\n', None),  # one string is a list of one
        ("[tools]\nnetwork = [1]\n", "must be a list of strings"),
        ('[web]\nfetch = "sometimes"\n', "must be true or false"),
    ],
)
def test_bad_values_are_one_sentence(home, text, says):
    (home / "config.toml").write_text(text)
    if says is None:
        assert config.read_file().network_tools == ["org-1/weather"]
        return
    with pytest.raises(config.ConfigError, match=says):
        config.read_file()


def fetcher(messages: list[ChatMessage], functions: list[FunctionSchema]) -> LLMReply:
    """ "fetch URL" calls fetch_webpage; everything else as the server tests' policy."""
    packet = json.loads(messages[-1].content) if messages[-1].role == "user" else {}
    text = packet.get("message", "") if packet.get("type") == "user_message" else ""
    if text.startswith("fetch "):
        return call("fetch_webpage", "Reading it.", url=text[6:], request_heartbeat=True)
    return policies.agent(messages, functions)


def _server(home):
    settings = ServerSettings(
        database=home / "m.db",
        allow_anonymous=True,
        model="scripted/tests.tools.test_web_settings:fetcher",
        embedding="hash",
    )
    return TestClient(create_app(settings), base_url="http://127.0.0.1")


def _tool_names(http: TestClient) -> list[str]:
    agent = http.post("/v1/agents/", json={"name": "w"}).json()
    return [t["name"] for t in agent["tools"]]


def test_the_web_functions_are_offered_only_when_configured(home, monkeypatch):
    with _server(home) as http:
        names = _tool_names(http)
        assert "fetch_webpage" not in names and "web_search" not in names
        assert "fetch_webpage" not in [t["name"] for t in http.get("/v1/tools/").json()]
    monkeypatch.setenv("MEMGPT_WEB_FETCH", "1")
    monkeypatch.setenv("MEMGPT_SEARXNG_URL", "http://127.0.0.1:9")
    with _server(home) as http:
        assert {"fetch_webpage", "web_search"} <= set(_tool_names(http))
        listed = {t["name"]: t for t in http.get("/v1/tools/").json()}
        assert listed["web_search"]["tool_type"] == "letta_builtin"


def test_an_agent_fetches_a_page_when_the_operator_allows_it(home, monkeypatch):
    monkeypatch.setenv("MEMGPT_WEB_FETCH", "1")
    page = Page(b"<h1>Hives</h1><p>Ana has three hives.</p>")
    with web_server({"/hives": page}) as site:
        for allowed, expect in (("0", "loopback, private or link-local"), ("1", "three hives")):
            monkeypatch.setenv("MEMGPT_WEB_PRIVATE_ADDRESSES", allowed)
            with _server(home) as http:
                agent = http.post("/v1/agents/", json={"name": f"w{allowed}"}).json()["id"]
                body = {"messages": [{"role": "user", "content": f"fetch {site.url}/hives"}]}
                sent = http.post(f"/v1/agents/{agent}/messages", json=body).json()
                returns = [
                    m for m in sent["messages"] if m["message_type"] == "tool_return_message"
                ]
                assert expect in returns[0]["tool_return"]
    assert len(site.requests) == 1  # only the allowed fetch reached the server


def test_the_python_api_offers_them_when_configured(home, monkeypatch):
    def offered() -> set[str]:
        client = MemGPT(home / "api.db")
        try:
            agent = client.create_agent(
                llm=ScriptedLLM([]),
                embedding=EmbeddingConfig(provider="hash"),
                embedder=HashEmbedder(),
            )
            reopened = client.get_agent(agent.id, llm=ScriptedLLM([]), embedder=HashEmbedder())
            assert set(reopened.functions) == set(agent.functions)
            return {s["name"] for s in agent.schemas}
        finally:
            client.close()

    assert not offered() & {"fetch_webpage", "web_search"}
    monkeypatch.setenv("MEMGPT_SEARXNG_URL", "http://127.0.0.1:9")
    assert offered() & {"fetch_webpage", "web_search"} == {"web_search"}
