"""The provider registry: built-ins, operator-added providers (file and environment), and
where keys go."""

from __future__ import annotations

import os

import pytest

from memgpt import config
from memgpt.llm import create_llm
from memgpt.llm.base import ChatMessage, LLMError
from memgpt.llm.providers import ProviderError, Providers
from memgpt.schemas import LLMConfig
from tests.fakes.openai_server import fake_openai, script

__all__ = ["fake_openai"]


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMGPT_HOME", str(tmp_path))
    for name in list(os.environ):
        if (name.startswith("MEMGPT_") and name != "MEMGPT_HOME") or name.endswith("_API_KEY"):
            monkeypatch.delenv(name)
    return tmp_path


def _write(home, text: str) -> None:
    (home / "config.toml").write_text(text)


def test_builtins_resolve_to_their_own_urls_and_keys():
    registry = Providers()
    openai = registry.resolve(registry.config("openai/gpt-4o-mini"))
    assert (openai.base_url, openai.api_key_env) == ("https://api.openai.com/v1", "OPENAI_API_KEY")
    ollama = registry.resolve(registry.config("ollama/llama3.1"))
    assert (ollama.base_url, ollama.api_key_env) == ("http://localhost:11434/v1", None)
    assert registry.config("gpt-4o").handle == "openai/gpt-4o"
    assert registry.config("local").handle == "local/smollm2"


def test_a_local_model_keeps_a_quarter_of_its_window_for_its_reply():
    """Its grammar sizes a reply to this budget (memgpt.llm.grammar.call_schema): the hosted
    default of 1,024 tokens left a local model's message 116 characters."""
    registry = Providers()
    assert registry.config("local").max_output_tokens == 2048
    assert registry.config("local", context_window=2048).max_output_tokens == 512
    assert registry.config("local", max_output_tokens=1024).max_output_tokens == 1024
    assert registry.config("openai/gpt-4o-mini").max_output_tokens == 1024


def test_unknown_provider_lists_the_known_ones(_home):
    _write(_home, '[providers.gw]\nkind = "openai-compatible"\nbase_url = "http://gw:8000/v1"\n')
    registry = config.load_settings().registry()
    with pytest.raises(ProviderError) as err:
        registry.config("nowhere/model")
    assert str(err.value) == (
        "Unknown provider 'nowhere'; use one of the configured providers: "
        "openai, anthropic, ollama, local, gw."
    )


def test_file_provider_with_defaults(_home):
    _write(
        _home,
        '[llm]\nmodel = "gw/m1"\n\n[providers.gw]\nkind = "openai-compatible"\n'
        'base_url = "http://gw:8000/v1"\napi_key_env = "GW_KEY"\ncontext_window = 32000\n'
        'models = ["m1", "m2"]\n',
    )
    settings = config.load_settings()
    llm = settings.llm_config()
    assert (llm.provider, llm.provider_name, llm.model) == ("openai", "gw", "m1")
    assert (llm.base_url, llm.api_key_env, llm.context_window) == (
        "http://gw:8000/v1",
        "GW_KEY",
        32000,
    )
    assert settings.registry().get("gw").models == ("m1", "m2")
    # Saving keeps the providers the file had.
    config.save_settings(settings)
    assert config.read_file().providers["gw"]["api_key_env"] == "GW_KEY"


def test_environment_adds_providers_and_sets_the_default_ones(monkeypatch):
    monkeypatch.setenv("MEMGPT_PROVIDER_MY_VLLM_KIND", "openai-compatible")
    monkeypatch.setenv("MEMGPT_PROVIDER_MY_VLLM_BASE_URL", "http://box:8000/v1")
    monkeypatch.setenv("MEMGPT_PROVIDER_MY_VLLM_CONTEXT_WINDOW", "4096")
    monkeypatch.setenv("MEMGPT_MODEL", "openai/gpt-4o-mini")
    monkeypatch.setenv("MEMGPT_BASE_URL", "http://127.0.0.1:8399/v1")
    monkeypatch.setenv("MEMGPT_API_KEY_ENV", "GATEWAY_KEY")
    monkeypatch.setenv("MEMGPT_CONTEXT_WINDOW", "20000")
    registry = config.load_settings().registry()
    vllm = registry.resolve(registry.config("my_vllm/qwen"))
    assert (vllm.base_url, vllm.api_key_env, vllm.context_window) == (
        "http://box:8000/v1",
        None,
        4096,
    )
    openai = registry.resolve(registry.config("openai/gpt-4o-mini"))
    assert (openai.base_url, openai.api_key_env, openai.context_window) == (
        "http://127.0.0.1:8399/v1",
        "GATEWAY_KEY",
        20000,
    )


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ('kind = "openai-compatible"', "needs a base_url"),
        ('kind = "openai-compatible"\nbase_url = "file:///etc/passwd"', "needs a base_url"),
        ('base_url = "http://x/v1"', "needs a kind"),
        ('kind = "local"\nbase_url = "http://x/v1"', "takes no base_url"),
        ('kind = "openai-compatible"\nbase_url = "http://x/v1"\napi_key = "sk"', "unknown setting"),
    ],
)
def test_bad_provider_entries_are_one_sentence(_home, entry, fragment):
    _write(_home, f"[providers.bad]\n{entry}\n")
    with pytest.raises(LLMError, match=fragment) as err:
        config.load_settings().registry()
    assert str(err.value).endswith(".") and "\n" not in str(err.value)


def test_a_saved_url_is_replaced_by_the_providers_own():
    registry = Providers()
    saved = LLMConfig(provider="openai", model="m", base_url="https://attacker.example/v1")
    assert registry.resolve(saved).base_url == "https://api.openai.com/v1"
    legacy_ollama = LLMConfig(provider="openai", model="m", base_url="http://localhost:11434/v1")
    assert registry.resolve(legacy_ollama).provider_name == "ollama"


def test_the_openai_key_never_goes_to_another_address(fake_openai, monkeypatch):
    """Ollama, or any address configured without a key variable, gets no key."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-server-secret")
    server = fake_openai(script({"content": "ok"}, {"content": "ok"}))
    ollama = Providers().config("ollama/llama3.1").model_copy(update={"base_url": server.base_url})
    create_llm(ollama).chat([ChatMessage(role="user", content="x")], [])
    bare = LLMConfig(provider="openai", model="m", base_url=server.base_url)
    create_llm(bare).chat([ChatMessage(role="user", content="x")], [])
    assert [h["authorization"] for h in server.headers] == ["Bearer no-key-needed"] * 2


def test_configure_writes_a_named_provider(_home):
    from click.testing import CliRunner

    from memgpt.cli.configure import configure

    result = CliRunner().invoke(
        configure,
        [
            "--provider", "gw", "--endpoint", "http://gw:8000/v1", "--model", "m1",
            "--api-key-env", "GW_KEY", "--context-window", "32000",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    saved = config.read_file()
    assert saved.model == "gw/m1" and saved.base_url is None
    assert saved.providers["gw"] == {
        "kind": "openai-compatible",
        "base_url": "http://gw:8000/v1",
        "api_key_env": "GW_KEY",
        "context_window": 32000,
    }


def test_the_python_api_uses_the_configured_providers(_home, tmp_path):
    from memgpt import MemGPT
    from memgpt.schemas import EmbeddingConfig

    _write(_home, '[providers.gw]\nkind = "openai-compatible"\nbase_url = "http://gw:8000/v1"\n')
    client = MemGPT(tmp_path / "api.db")
    try:
        agent = client.create_agent("a", model="gw/m1", embedding=EmbeddingConfig(provider="hash"))
        assert (agent.llm.config.provider_name, agent.llm.config.base_url) == (
            "gw",
            "http://gw:8000/v1",
        )
    finally:
        client.close()
