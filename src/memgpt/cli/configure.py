"""`memgpt configure`: choose the model and embedding backends new agents use.

With no flags it asks, offering what it finds (API keys in the environment, an Ollama
server); with flags it asks nothing, for scripts. It writes $MEMGPT_HOME/config.toml;
environment variables still override the file (see `memgpt.config.LAYOUT`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace

import click

from memgpt import config

BACKENDS = ("local", "openai", "anthropic", "ollama", "openai-compatible")
DEFAULT_MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-3-5-haiku-latest",
    "local": "smollm2",
}
KEY_ENVS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
OLLAMA_DEFAULT_HOST = "localhost:11434"
PROBE_TIMEOUT_S = 0.3  # a local server answers in milliseconds; never stall the command


@dataclass
class Found:
    keys: list[str] = field(default_factory=list)  # API key variables that are set
    ollama_host: str | None = None
    ollama_models: list[str] = field(default_factory=list)


def ollama_host() -> str:
    """Where Ollama listens: $OLLAMA_HOST (Ollama's own variable), else localhost:11434."""
    host = os.environ.get("OLLAMA_HOST") or OLLAMA_DEFAULT_HOST
    return host if "://" in host else f"http://{host}"


def detect() -> Found:
    found = Found(keys=[env for env in KEY_ENVS.values() if os.environ.get(env)])
    import urllib.request

    host = ollama_host()
    try:
        with urllib.request.urlopen(f"{host}/api/tags", timeout=PROBE_TIMEOUT_S) as reply:
            tags = json.load(reply)
    except (OSError, ValueError):  # nothing there, or not Ollama
        return found
    found.ollama_host = host
    found.ollama_models = [m["name"] for m in tags.get("models", []) if "name" in m]
    return found


def backend_of(settings: config.Settings) -> str:
    """Which backend a settings' model string means (the reverse of `model_string`)."""
    provider = settings.model.partition("/")[0]
    if provider == "openai" and settings.base_url:
        return "openai-compatible"
    return provider if provider in BACKENDS else "openai"


def model_string(backend: str, model: str | None) -> str:
    if backend == "local":
        return "local" if model in (None, "", DEFAULT_MODELS["local"]) else f"local/{model}"
    if backend == "ollama":
        if not model:
            raise click.UsageError("Name the Ollama model with --model (e.g. llama3.1).")
        return f"ollama/{model}"
    provider = "openai" if backend == "openai-compatible" else backend
    if not model:
        if backend == "openai-compatible":
            raise click.UsageError("Name the server's model with --model.")
        model = DEFAULT_MODELS[backend]
    return f"{provider}/{model}"


def llm_settings(
    settings: config.Settings,
    backend: str,
    model: str | None,
    endpoint: str | None,
    key_env: str | None,
    found: Found,
) -> config.Settings:
    """`settings` with a new LLM backend; the endpoint and key default to the backend's."""
    if backend == "openai-compatible" and not endpoint:
        raise click.UsageError("An OpenAI-compatible server needs --endpoint URL.")
    if backend == "ollama" and not endpoint and found.ollama_host:
        endpoint = f"{found.ollama_host}/v1"
    return replace(
        settings, model=model_string(backend, model), base_url=endpoint, api_key_env=key_env
    )


def provider_settings(
    settings: config.Settings,
    name: str,
    backend: str | None,
    model: str | None,
    endpoint: str | None,
    key_env: str | None,
    window: int | None,
) -> config.Settings:
    """`settings` with a named provider for `endpoint`, and its `model` as the default."""
    if not endpoint or not model:
        raise click.UsageError("--provider NAME needs --endpoint URL and --model NAME.")
    if backend not in (None, "openai-compatible", "anthropic", "ollama"):
        raise click.UsageError("--provider takes --backend openai-compatible, anthropic or ollama.")
    entry: dict[str, str | int] = {
        "kind": backend if backend in ("anthropic", "ollama") else "openai-compatible",
        "base_url": endpoint,
    }
    if key_env:
        entry["api_key_env"] = key_env
    if window:
        entry["context_window"] = window
    return replace(
        settings,
        model=f"{name}/{model}",
        base_url=None,
        api_key_env=None,
        context_window=None,
        providers={**settings.providers, name: entry},
    )


def describe(found: Found) -> str:
    parts = [f"{env} is set" for env in found.keys]
    if found.ollama_host:
        models = ", ".join(found.ollama_models) or "no models pulled yet"
        parts.append(f"Ollama is running at {found.ollama_host} ({models})")
    return (
        "Found: " + "; ".join(parts) + "." if parts else "Found no API keys and no Ollama server."
    )


def interactive(settings: config.Settings, found: Found) -> config.Settings:
    click.echo(describe(found))
    default_backend = backend_of(settings)
    backend = click.prompt(
        "LLM backend", type=click.Choice(BACKENDS), default=default_backend, show_choices=True
    )
    current_model = settings.model.partition("/")[2] if backend == default_backend else ""
    suggested = current_model or (
        found.ollama_models[0] if backend == "ollama" and found.ollama_models else ""
    )
    suggested = suggested or DEFAULT_MODELS.get(backend, "")
    what = "Model (smollm2 or a .gguf path)" if backend == "local" else "Model"
    model = click.prompt(what, default=suggested or None)
    endpoint = None
    if backend == "openai-compatible":
        endpoint = click.prompt("Endpoint (base URL)", default=settings.base_url or None)
    key_env = None
    if backend in ("openai", "anthropic", "openai-compatible"):
        default_env = settings.api_key_env or KEY_ENVS.get(backend, "OPENAI_API_KEY")
        key_env = click.prompt("Environment variable holding the API key", default=default_env)
        if not os.environ.get(key_env):
            click.echo(f"Note: {key_env} is not set in this shell; set it before `memgpt run`.")
    window = click.prompt(
        "Context window in tokens (blank: the model's default)",
        default=str(settings.context_window or ""),
        show_default=False,
    )
    updated = llm_settings(settings, backend, model, endpoint, key_env, found)
    updated.context_window = int(window) if window.strip() else None
    updated.embedding = click.prompt(
        "Embedding backend",
        type=click.Choice(list(config.EMBEDDING_MODELS)),
        default=settings.embedding,
        show_choices=True,
    )
    return updated


@click.command()
@click.option("--backend", type=click.Choice(BACKENDS), help="LLM backend.")
@click.option(
    "--model",
    help="With --backend, the model's name (local: smollm2 or a .gguf path); without, a model "
    'string as `memgpt run --model` takes, e.g. "openai/gpt-4o".',
)
@click.option("--endpoint", metavar="URL", help="Base URL of an OpenAI-compatible server.")
@click.option("--api-key-env", metavar="VAR", help="Environment variable holding the API key.")
@click.option("--context-window", type=click.IntRange(min=256), help="Context window in tokens.")
@click.option(
    "--provider",
    metavar="NAME",
    help="Save --endpoint (with --api-key-env, --context-window) as a provider of this name, "
    "[providers.NAME] in config.toml; the model is then NAME/MODEL.",
)
@click.option(
    "--embedding", type=click.Choice(list(config.EMBEDDING_MODELS)), help="Embedding backend."
)
@click.option("--embedding-model", help="Embedding model name.")
@click.option("--embedding-endpoint", metavar="URL", help="Base URL of an embeddings server.")
@click.option("--embedding-dim", type=click.IntRange(min=1), help="Embedding vector size.")
def configure(
    backend: str | None,
    model: str | None,
    endpoint: str | None,
    api_key_env: str | None,
    context_window: int | None,
    provider: str | None,
    embedding: str | None,
    embedding_model: str | None,
    embedding_endpoint: str | None,
    embedding_dim: int | None,
) -> None:
    """Choose the model and embeddings new agents use (asks, unless given flags)."""
    settings = config.read_file()  # the file alone: overrides in this shell are not saved
    flags = (backend, model, endpoint, api_key_env, context_window, provider, embedding,
             embedding_model, embedding_endpoint, embedding_dim)  # fmt: skip
    if all(flag is None for flag in flags):
        settings = interactive(settings, detect())
    else:
        if provider is not None:
            settings = provider_settings(
                settings, provider, backend, model, endpoint, api_key_env, context_window
            )
        elif backend is not None:
            found = detect() if backend == "ollama" and endpoint is None else Found()
            settings = llm_settings(settings, backend, model, endpoint, api_key_env, found)
        elif model is not None:  # a whole model string, as `memgpt run --model` takes
            settings = replace(settings, model=model, base_url=endpoint, api_key_env=api_key_env)
        elif endpoint is not None or api_key_env is not None:
            settings = replace(
                settings,
                base_url=endpoint or settings.base_url,
                api_key_env=api_key_env or settings.api_key_env,
            )
        if context_window is not None and provider is None:
            settings.context_window = context_window
        if embedding is not None and embedding != settings.embedding:
            settings = replace(
                settings,
                embedding=embedding,
                embedding_model=None,
                embedding_base_url=None,
                embedding_api_key_env=None,
                embedding_dim=None,
            )
        settings = replace(
            settings,
            embedding_model=embedding_model or settings.embedding_model,
            embedding_base_url=embedding_endpoint or settings.embedding_base_url,
            embedding_dim=embedding_dim or settings.embedding_dim,
        )
    # Fail here, not at the next `memgpt run`, on a model string the backends reject.
    settings.llm_config()
    settings.embedding_config()
    path = config.save_settings(settings)
    click.echo(f"Saved {path}: model {settings.model}, embeddings {settings.embedding}.")
