"""Models and providers end to end: a server configured like an operator would (environment
or config.toml) pointing at fake OpenAI-compatible servers that record every request.
Runs with whichever line of the Letta SDK is installed (see test_sdk_flows.py)."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from memgpt.server.app import create_app
from memgpt.server.settings import ServerSettings
from tests.fakes.openai_server import FakeOpenAIServer, fake_openai
from tests.server.live import free_port, in_thread, org_key
from tests.server.sdk import SDK

__all__ = ["fake_openai"]

OPENAI_KEY = "sk-server-openai-secret"
GW_KEY = "gw-secret"


def reply(text: str, usage: dict | None = None) -> dict:
    arguments = json.dumps({"inner_thoughts": "Answering.", "message": text})
    spec: dict = {"tool_calls": [{"name": "send_message", "arguments": arguments}]}
    if usage:
        spec["usage"] = usage
    return spec


@contextmanager
def serving(home, env: dict[str, str], toml: str = "") -> Iterator[tuple[str, str]]:
    """A memgpt server started as `memgpt server` would be, with `env` and a config.toml
    holding `toml`; yields its URL and an API key."""
    (home / "config.toml").write_text(toml)
    port = free_port()
    settings = ServerSettings(
        port=port, database=home / "memgpt.db", allow_anonymous=True, embedding="hash"
    )
    saved = dict(os.environ)
    os.environ.update({"MEMGPT_HOME": str(home), **env})
    try:
        app = create_app(settings)  # the registry is read here, once
    finally:
        os.environ.clear()
        os.environ.update(saved)
    key = org_key(app.state.accounts, "gw")
    # Keys are read when a model client is built: they stay set while the server runs.
    keys = {k: v for k, v in env.items() if not k.startswith("MEMGPT_")}
    os.environ.update(keys)
    try:
        with in_thread(app, port) as url:
            yield url, key
    finally:
        for k in keys:
            os.environ.pop(k, None)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("MEMGPT_") or name.endswith("_API_KEY") or name == "OPENAI_BASE_URL":
            monkeypatch.delenv(name)


def authorizations(server: FakeOpenAIServer) -> set[str]:
    return {h.get("authorization", "") for h in server.headers}


def test_memgpt_base_url_reaches_the_configured_server_with_its_window(fake_openai, tmp_path):
    fake = fake_openai(lambda request: reply("hi from the fake"))
    env = {
        "MEMGPT_MODEL": "openai/test-model",
        "MEMGPT_BASE_URL": fake.base_url,
        "MEMGPT_CONTEXT_WINDOW": "16000",
        "OPENAI_API_KEY": OPENAI_KEY,
    }
    with serving(tmp_path, env) as (url, key):
        sdk = SDK(url, key)
        agent = sdk.create_agent("p")
        assert agent.llm_config.model_endpoint == fake.base_url
        assert agent.llm_config.context_window == 16000
        assert agent.llm_config.handle == "openai/test-model"
        answer = sdk.send(agent.id, "hello")
    assert [m.content for m in answer.messages if m.message_type == "assistant_message"] == [
        "hi from the fake"
    ]
    assert len(fake.requests) == 1 and fake.requests[0]["model"] == "test-model"
    # The operator pointed the openai provider here: its key goes here, and only here.
    assert authorizations(fake) == {f"Bearer {OPENAI_KEY}"}


GATEWAY = """
[llm]
model = "gw/m1"

[providers.gw]
kind = "openai-compatible"
base_url = "{gw}"
api_key_env = "GW_KEY"
context_window = 32000
models = ["m1"]

[providers.ollama]
base_url = "{ollama}"
"""


def test_config_toml_providers_get_only_their_own_keys(fake_openai, tmp_path):
    gw = fake_openai(lambda request: reply("from the gateway"))
    ollama = fake_openai(lambda request: reply("from ollama"))
    env = {"OPENAI_API_KEY": OPENAI_KEY, "GW_KEY": GW_KEY}
    with serving(tmp_path, env, GATEWAY.format(gw=gw.base_url, ollama=ollama.base_url)) as (
        url,
        key,
    ):
        sdk = SDK(url, key)
        default = sdk.create_agent("d")
        assert (default.llm_config.handle, default.llm_config.context_window) == ("gw/m1", 32000)
        sdk.send(default.id, "hello")
        local = sdk.create_agent("o", model="ollama/llama3.1")
        assert local.llm_config.model_endpoint == ollama.base_url
        sdk.send(local.id, "hello")
    assert [r["model"] for r in gw.requests] == ["m1"]
    assert [r["model"] for r in ollama.requests] == ["llama3.1"]
    assert authorizations(gw) == {f"Bearer {GW_KEY}"}
    assert authorizations(ollama) == {"Bearer no-key-needed"}  # never the OpenAI key


def test_requests_cannot_name_urls_or_unknown_providers(fake_openai, tmp_path):
    gw = fake_openai(lambda request: reply("ok"))
    with serving(
        tmp_path, {"GW_KEY": GW_KEY}, GATEWAY.format(gw=gw.base_url, ollama=gw.base_url)
    ) as (url, key):
        http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"})
        unknown = http.post("/v1/agents/", json={"name": "x", "model": "nowhere/m"})
        assert unknown.status_code == 400
        assert unknown.json()["detail"] == (
            "Unknown provider 'nowhere'; use one of the configured providers: "
            "openai, anthropic, ollama, local, gw."
        )
        elsewhere = http.post(
            "/v1/agents/",
            json={
                "name": "x",
                "llm_config": {"handle": "gw/m1", "model_endpoint": "http://evil/v1"},
            },
        )
        assert elsewhere.status_code == 400 and "cannot choose URLs" in elsewhere.json()["detail"]
        unimplemented = http.post(
            "/v1/agents/",
            json={"name": "x", "llm_config": {"handle": "gw/m1", "enable_reasoner": True}},
        )
        assert unimplemented.status_code == 400
        assert "llm_config.enable_reasoner" in unimplemented.json()["detail"]
        wrong_dim = http.post(
            "/v1/agents/",
            json={
                "name": "x",
                "embedding_config": {"handle": "hash/hash-384", "embedding_dim": 1536},
            },
        )
        assert wrong_dim.status_code == 400 and "1536" in wrong_dim.json()["detail"]
        agent = http.post(
            "/v1/agents/",
            json={
                "name": "x",
                "llm_config": {"handle": "gw/m1", "temperature": 0.3, "max_tokens": 99},
                "context_window_limit": 9000,
            },
        ).json()
        assert agent["llm_config"]["temperature"] == 0.3
        assert agent["llm_config"]["context_window"] == 9000
        # What a read returns, a modify accepts back unchanged.
        same = http.patch(f"/v1/agents/{agent['id']}", json={"llm_config": agent["llm_config"]})
        assert same.status_code == 200, same.text
        moved = http.patch(
            f"/v1/agents/{agent['id']}", json={"embedding": "openai/text-embedding-3-small"}
        )
        assert moved.status_code == 400 and "keeps the embedding model" in moved.json()["detail"]
        http.post(f"/v1/agents/{agent['id']}/messages", json={"input": "hi"})
    assert gw.requests[-1]["temperature"] == 0.3 and gw.requests[-1]["max_tokens"] == 99


def test_a_model_failure_is_one_sentence_naming_the_provider(fake_openai, tmp_path, caplog):
    gw = fake_openai(lambda request: {"status": 500, "message": "model exploded"})
    with serving(
        tmp_path, {"GW_KEY": GW_KEY}, GATEWAY.format(gw=gw.base_url, ollama=gw.base_url)
    ) as (url, key):
        http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"})
        agent = http.post("/v1/agents/", json={"name": "x"}).json()
        caplog.set_level(logging.WARNING, logger="memgpt.server.conversation")
        failed = http.post(f"/v1/agents/{agent['id']}/messages", json={"input": "hi"})
        streamed = http.post(f"/v1/agents/{agent['id']}/messages/stream", json={"input": "hi"}).text
        sdk_error = None
        try:
            SDK(url, key).send(agent["id"], "hi")
        except Exception as exc:  # the SDK's own error type differs between the lines
            sdk_error = str(exc)
    sentence = (
        f"The server at {gw.base_url} (provider 'gw') failed with HTTP 500 after 2 retries "
        "(model exploded): try again later."
    )
    assert failed.status_code == 502
    assert failed.json()["detail"] == sentence
    assert failed.json()["stop_reason"]["stop_reason"] == "llm_api_error"
    events = [json.loads(line[6:]) for line in streamed.splitlines() if line.startswith("data: {")]
    assert {
        "message_type": "error_message",
        "error_type": "llm_error",
        "message": sentence,
    }.items() <= events[-3].items()
    assert events[-2] == {"message_type": "stop_reason", "stop_reason": "llm_api_error"}
    assert sdk_error is not None and sentence in sdk_error
    logged = [r.getMessage() for r in caplog.records if r.name == "memgpt.server.conversation"]
    # One line per failed turn (three: plain, streamed, the SDK's, which did not retry).
    assert logged == [f"agent {agent['id']}: {sentence}"] * 3


def test_model_routes_list_configured_and_provider_models(fake_openai, tmp_path):
    gw = fake_openai(lambda request: reply("ok"))
    gw.models = ["m1", "m2"]
    toml = GATEWAY.format(gw=gw.base_url, ollama=gw.base_url) + (
        '\n[providers.dead]\nkind = "openai-compatible"\nbase_url = "http://127.0.0.1:9/v1"\n'
    )
    # No OPENAI_API_KEY: the openai provider is then not asked (tests never leave the machine).
    with serving(tmp_path, {"GW_KEY": GW_KEY}, toml) as (url, key):
        sdk = SDK(url, key)
        models = list(sdk.client.models.list())
        http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"})
        providers = {p["name"]: p for p in http.get("/v1/providers/").json()}
        embedding = http.get("/v1/models/embedding").json()
        only_gw = http.get("/v1/models/", params={"provider_name": "gw"}).json()
    handles = {m.handle: m for m in models}
    assert {"gw/m1", "gw/m2", "local/smollm2"} <= set(handles)
    assert handles["gw/m1"].context_window == 32000
    assert handles["gw/m1"].model_endpoint_type == "openai"
    assert [m["handle"] for m in only_gw] == ["gw/m1", "gw/m2"]
    assert providers["gw"]["base_url"] == gw.base_url and providers["gw"]["error"] is None
    assert "could not list its models" in providers["dead"]["error"]
    assert providers["openai"]["api_key"] is None
    assert embedding[0]["handle"] == "hash/hash-384" and embedding[0]["embedding_dim"] == 384
    # gw was asked with its key; ollama (at the same address here) with none.
    assert authorizations(gw) == {f"Bearer {GW_KEY}", ""}


def test_usage_counts_the_providers_tokens(fake_openai, tmp_path):
    usage = {
        "prompt_tokens": 120,
        "completion_tokens": 7,
        "prompt_tokens_details": {"cached_tokens": 64},
    }
    gw = fake_openai(lambda request: reply("ok", usage))
    with serving(
        tmp_path, {"GW_KEY": GW_KEY}, GATEWAY.format(gw=gw.base_url, ollama=gw.base_url)
    ) as (url, key):
        sdk = SDK(url, key)
        agent = sdk.create_agent("u")
        first = sdk.send(agent.id, "hi")
        sdk.send(agent.id, "again")
        streamed = sdk.stream(agent.id, "and again")
        total = httpx.get(
            f"{url}/v1/agents/{agent.id}/usage", headers={"Authorization": f"Bearer {key}"}
        ).json()
    assert (first.usage.prompt_tokens, first.usage.completion_tokens) == (120, 7)
    assert (first.usage.total_tokens, first.usage.step_count) == (127, 1)
    stats = [c for c in streamed if c.message_type == "usage_statistics"]
    assert stats[0].total_tokens == 127
    assert total == {
        "message_type": "usage_statistics",
        "prompt_tokens": 360,
        "completion_tokens": 21,
        "total_tokens": 381,
        "cached_input_tokens": 192,
        "step_count": 3,
    }


def test_export_imports_back_on_the_same_server(fake_openai, tmp_path):
    fake = fake_openai(lambda request: reply("ok"))
    env = {"MEMGPT_MODEL": "openai/test-model", "MEMGPT_BASE_URL": fake.base_url}
    with serving(tmp_path, env) as (url, key):
        sdk = SDK(url, key)
        agent = sdk.create_agent("roundtrip")
        sdk.send(agent.id, "hello")
        [copy_id] = sdk.import_(sdk.export(agent.id))
        copy = sdk.agents.retrieve(copy_id)
        sdk.send(copy_id, "hello again")
    assert copy.llm_config.handle == "openai/test-model"
    assert copy.llm_config.model_endpoint == fake.base_url
    assert len(fake.requests) == 2


LONG = "Here is a reply long enough to arrive in many small pieces over the stream."


def test_token_deltas_arrive_before_the_model_finishes(fake_openai, tmp_path):
    fake = fake_openai(lambda request: {**reply(LONG), "chunk_delay_s": 0.02})
    with serving(
        tmp_path, {"GW_KEY": GW_KEY}, GATEWAY.format(gw=fake.base_url, ollama=fake.base_url)
    ) as (url, key):
        agent = SDK(url, key).create_agent("s")
        first_piece_at, events = None, []
        with httpx.stream(
            "POST",
            f"{url}/v1/agents/{agent.id}/messages/stream",
            json={"input": "hi", "stream_tokens": True},
            headers={"Authorization": f"Bearer {key}"},
        ) as response:
            for line in response.iter_lines():
                if line.startswith("data: {"):
                    events.append(json.loads(line[6:]))
                    if first_piece_at is None and events[-1]["message_type"] == "assistant_message":
                        first_piece_at = time.monotonic()
        chunks = SDK(url, key).stream(agent.id, "again", tokens=True)
    assert fake.requests[0]["stream"] is True
    assert first_piece_at is not None and first_piece_at < fake.stream_ended_at
    said = [e for e in events if e["message_type"] == "assistant_message"]
    assert len(said) > 5 and "".join(e["content"] for e in said) == LONG
    assert len({e["id"] for e in said}) == 1  # pieces of one message, not the message again
    thoughts = [e["reasoning"] for e in events if e["message_type"] == "reasoning_message"]
    assert "".join(thoughts) == "Answering."
    assert [e["message_type"] for e in events[-2:]] == ["stop_reason", "usage_statistics"]
    sdk_said = [c.content for c in chunks if c.message_type == "assistant_message"]
    assert len(sdk_said) > 5 and "".join(sdk_said) == LONG


def test_a_stream_cut_mid_reply_loses_nothing_acknowledged(fake_openai, tmp_path):
    replies = iter([reply("first answer"), {**reply(LONG), "cut_after": 8}])
    fake = fake_openai(lambda request: next(replies))
    with serving(
        tmp_path, {"GW_KEY": GW_KEY}, GATEWAY.format(gw=fake.base_url, ollama=fake.base_url)
    ) as (url, key):
        http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"})
        agent = http.post("/v1/agents/", json={"name": "c"}).json()
        stream = f"/v1/agents/{agent['id']}/messages/stream"
        first = http.post(stream, json={"input": "one", "stream_tokens": True}).text
        cut = http.post(stream, json={"input": "two", "stream_tokens": True}).text
        history = http.get(f"/v1/agents/{agent['id']}/messages", params={"limit": 100}).json()
    assert '"stop_reason": "end_turn"' in first
    assert '"stop_reason": "llm_api_error"' in cut and "broke off" in cut
    said = [m["content"] for m in history if m["message_type"] == "assistant_message"]
    users = [m["content"] for m in history if m["message_type"] == "user_message"]
    assert said == ["first answer"]  # nothing of the cut reply was committed
    assert [u for u in users if u in ("one", "two")] == ["one", "two"]


def test_a_retry_after_a_model_failure_asks_the_model_again(fake_openai, tmp_path):
    """The failed turn committed the user message but no answer: a retry with the same key
    must not answer with the empty chain, nor add the message a second time."""
    calls = []

    def flaky(request):
        calls.append(request)
        return {"status": 500, "message": "down"} if len(calls) <= 3 else reply("back now")

    gw = fake_openai(flaky)
    with serving(
        tmp_path, {"GW_KEY": GW_KEY}, GATEWAY.format(gw=gw.base_url, ollama=gw.base_url)
    ) as (url, key):
        http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"})
        agent = http.post("/v1/agents/", json={"name": "x"}).json()
        path, headers = f"/v1/agents/{agent['id']}/messages", {"Idempotency-Key": "k1"}
        failed = http.post(path, json={"input": "hello?"}, headers=headers)
        retried = http.post(path, json={"input": "hello?"}, headers=headers)
        again = http.post(path, json={"input": "hello?"}, headers=headers)
        listed = http.get(path).json()
    assert failed.status_code == 502
    assert retried.status_code == 200, retried.text
    said = [
        m["content"] for m in retried.json()["messages"] if m["message_type"] == "assistant_message"
    ]
    assert said == ["back now"]
    assert again.json() == retried.json()
    assert [m["content"] for m in listed if m["message_type"] == "user_message"] == ["hello?"]
