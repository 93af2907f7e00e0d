"""`memgpt configure`, `list`, `add`, `delete`, `version`, and bad input: one sentence, exit 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from memgpt import config
from tests.fakes.openai_server import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[2]
MEMGPT = str(Path(sys.executable).with_name("memgpt"))
SCRIPTED = "scripted/tests.cli.policy:policy"


@pytest.fixture
def env(tmp_path, monkeypatch) -> dict[str, str]:
    for name in [e for _s, _k, e in config.LAYOUT.values()] + [
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
    ]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MEMGPT_HOME", str(tmp_path))
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")  # nothing listens on the discard port
    # This checkout's sources first, whatever checkout the environment was installed from.
    path = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    return {**os.environ, "PYTHONPATH": path, "MEMGPT_EMBEDDING": "hash"}


def memgpt(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [MEMGPT, *args], input=stdin, env=env, capture_output=True, text=True, timeout=60
    )


def one_sentence_failure(result: subprocess.CompletedProcess, *words: str) -> str:
    out = (result.stdout + result.stderr).strip()
    assert result.returncode == 1, out
    assert "Traceback" not in out
    last = out.splitlines()[-1]
    for word in words:
        assert word in last, out
    assert last.count(". ") == 0 and last.endswith("."), f"one sentence: {last!r}"
    return last


def test_configure_with_flags_writes_the_file_and_env_overrides_it(env, tmp_path, monkeypatch):
    result = memgpt(
        env, "configure", "--backend", "openai", "--model", "gpt-4o", "--context-window", "16000",
        "--embedding", "hash",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "config.toml").read_text()
    assert 'model = "openai/gpt-4o"' in text and "context_window = 16000" in text
    settings = config.load_settings()
    assert settings.llm_config().model == "gpt-4o"
    assert settings.llm_config().context_window == 16000
    assert settings.embedding_config().provider == "hash"

    monkeypatch.setenv("MEMGPT_MODEL", "anthropic/claude-test")
    monkeypatch.setenv("MEMGPT_CONTEXT_WINDOW", "4096")
    llm = config.load_settings().llm_config()
    assert (llm.provider, llm.model, llm.context_window) == ("anthropic", "claude-test", 4096)


def test_an_env_model_does_not_inherit_the_files_endpoint(env, tmp_path, monkeypatch):
    result = memgpt(
        env, "configure", "--backend", "openai-compatible", "--model", "qwen",
        "--endpoint", "http://box:8000/v1", "--api-key-env", "BOX_KEY",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert config.load_settings().llm_config().base_url == "http://box:8000/v1"
    monkeypatch.setenv("MEMGPT_MODEL", "openai/gpt-4o-mini")
    llm = config.load_settings().llm_config()
    assert (llm.base_url, llm.api_key_env) == ("https://api.openai.com/v1", "OPENAI_API_KEY")


class FakeOllama(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"models": [{"name": "llama3.1:8b"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def ollama(env):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOllama)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env["OLLAMA_HOST"] = f"127.0.0.1:{server.server_port}"
    yield env["OLLAMA_HOST"]
    server.shutdown()


def test_interactive_configure_offers_what_it_finds(env, ollama, tmp_path, monkeypatch):
    env["OPENAI_API_KEY"] = "sk-test"
    # backend, model (accept the Ollama model offered), context window, embedding backend
    result = memgpt(env, "configure", stdin="ollama\n\n8192\nlocal\n")
    assert result.returncode == 0, result.stderr
    assert "OPENAI_API_KEY is set" in result.stdout
    assert f"Ollama is running at http://{ollama} (llama3.1:8b)" in result.stdout
    monkeypatch.delenv("MEMGPT_EMBEDDING", raising=False)
    settings = config.read_file()
    assert settings.model == "ollama/llama3.1:8b"
    llm = settings.llm_config()
    assert (llm.provider, llm.base_url, llm.context_window) == (
        "openai",
        f"http://{ollama}/v1",
        8192,
    )
    assert settings.embedding_config().model == "all-MiniLM-L6-v2"


def test_add_and_list_personas_and_humans(env, tmp_path):
    assert memgpt(env, "add", "persona", "pirate", "--text", "I am a pirate.").returncode == 0
    notes = tmp_path / "human.txt"
    notes.write_text("Ana, a botanist.")
    assert memgpt(env, "add", "human", "ana", "--file", str(notes)).returncode == 0
    personas = json.loads(memgpt(env, "list", "personas", "--json").stdout)
    assert {"name": "pirate", "text": "I am a pirate."} in personas
    assert "sam" in [p["name"] for p in personas]  # the built-in default
    humans = json.loads(memgpt(env, "list", "humans", "--json").stdout)
    assert {"name": "ana", "text": "Ana, a botanist."} in humans
    table = memgpt(env, "list", "personas")
    assert "pirate" in table.stdout


def test_run_with_a_named_persona_then_list_and_delete_the_agent(env):
    memgpt(env, "add", "persona", "pirate", "--text", "I am a pirate.")
    chat = memgpt(
        env, "run", "--agent", "cap", "--persona", "pirate", "--model", SCRIPTED, "--first",
        stdin="/memory\n/exit\n",
    )  # fmt: skip
    assert chat.returncode == 0, chat.stderr
    assert "I am a pirate." in chat.stdout
    [agent] = json.loads(memgpt(env, "list", "agents", "--json").stdout)
    assert agent["name"] == "cap" and agent["embedding"] == "hash/hash-384"
    refused = memgpt(env, "delete", "agent", "cap", stdin="n\n")
    assert refused.returncode == 1 and "Aborted" in refused.stderr
    assert memgpt(env, "delete", "agent", "cap", "--yes").returncode == 0
    assert json.loads(memgpt(env, "list", "agents", "--json").stdout) == []


def test_version(env):
    assert memgpt(env, "version").stdout.startswith("memgpt ")


def test_unknown_agent_and_persona(env):
    one_sentence_failure(memgpt(env, "delete", "agent", "ghost", "--yes"), "ghost")
    one_sentence_failure(
        memgpt(env, "run", "--agent", "x", "--persona", "ghost", "--model", SCRIPTED, "--first"),
        "no persona named 'ghost'",
        "memgpt add persona",
    )


def test_missing_and_corrupt_gguf(env, tmp_path):
    missing = memgpt(
        env, "run", "--agent", "x", "--model", f"local/{tmp_path}/none.gguf", "--first"
    )
    one_sentence_failure(missing, "does not exist")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model at all")
    one_sentence_failure(
        memgpt(env, "run", "--agent", "y", "--model", f"local/{bad}", "--first"), "not a GGUF"
    )


def test_unreachable_endpoint(env):
    env.update(MEMGPT_BASE_URL="http://127.0.0.1:9/v1", OPENAI_API_KEY="sk-test")
    result = memgpt(env, "run", "--agent", "x", "--model", "openai/gpt-4o-mini", stdin="")
    assert result.returncode == 1
    assert "Cannot reach http://127.0.0.1:9/v1" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_wrong_key(env):
    with FakeOpenAIServer(lambda request: {"status": 401, "message": "bad key"}) as server:
        env.update(MEMGPT_MODEL="openai/gpt-4o-mini", MEMGPT_BASE_URL=server.base_url)
        env["OPENAI_API_KEY"] = "sk-wrong"
        result = memgpt(env, "run", "--agent", "x", stdin="")
    assert result.returncode == 1
    assert "rejected the API key in OPENAI_API_KEY" in " ".join(result.stdout.split())


def test_corrupt_config_file(env, tmp_path):
    (tmp_path / "config.toml").write_text("[llm\nmodel = ")
    one_sentence_failure(memgpt(env, "configure", "--context-window", "4096"), "not valid TOML")


def test_bad_model_string(env):
    one_sentence_failure(memgpt(env, "configure", "--model", "nowhere/x"), "Unknown provider")


def test_an_agent_moves_to_another_model_and_resumes_without_naming_it(env):
    first = memgpt(env, "run", "--agent", "sam", "--model", SCRIPTED, "--first",
                   stdin="my name is Ana\n/exit\n")  # fmt: skip
    assert "Nice to meet you!" in first.stdout, first.stderr
    moved = memgpt(env, "run", "--agent", "sam", "--model", "scripted/tests.cli.policy:shout",
                   "--first", stdin="hello\n/memory\n/exit\n")  # fmt: skip
    assert "sam: HELLO" in moved.stdout and "Name: Ana" in moved.stdout, moved.stderr
    again = memgpt(env, "run", "--yes", "--first", stdin="still loud?\n/exit\n")
    assert "model scripted/tests.cli.policy:shout" in again.stdout
    assert "sam: STILL LOUD?" in again.stdout, again.stderr


def test_run_streams_from_the_configured_server_and_shows_usage(env):
    arguments = json.dumps({"inner_thoughts": "Greeting.", "message": "hi there"})
    usage = {
        "prompt_tokens": 120,
        "completion_tokens": 7,
        "prompt_tokens_details": {"cached_tokens": 64},
    }
    spec = {"tool_calls": [{"name": "send_message", "arguments": arguments}], "usage": usage}
    with FakeOpenAIServer(lambda request: spec) as server:
        env.update(MEMGPT_MODEL="openai/m", MEMGPT_BASE_URL=server.base_url)
        result = memgpt(env, "run", "--agent", "x", stdin="hello\n/usage\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert server.requests[-1]["stream"] is True  # the user's message (after the login)
    assert "hi there" in result.stdout
    n = len(server.requests)
    used = (
        f"{n} steps: {120 * n} prompt tokens ({64 * n} cached), {7 * n} completion, {127 * n} total"
    )
    assert used in result.stdout
