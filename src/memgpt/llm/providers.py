"""Model providers: where a model handle's requests go, and which key goes with them.

A provider has a name, a kind (the wire format), a base URL, the name of the environment
variable holding its key, and optional defaults (context window, models). The built-in
ones are below; an operator adds or changes others in config.toml (`[providers.NAME]`)
or the environment (`MEMGPT_PROVIDER_NAME_BASE_URL`, ...; see `memgpt.config`).

A model handle is "provider/model". An agent keeps only its provider's name and the
model; the URL and key come from this registry each time a client is built, so a key
only ever goes to the URL the operator gave its provider (DESIGN invariant 8).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlparse

from memgpt.llm.base import LLMError
from memgpt.schemas import LLMConfig

OPENAI_BASE_URL = "https://api.openai.com/v1"
ANTHROPIC_BASE_URL = "https://api.anthropic.com"
OLLAMA_BASE_URL = "http://localhost:11434/v1"
LOCAL_DEFAULT_MODEL = "smollm2"  # the packaged SmolLM2-135M
# A local model's reply is decoded under a grammar sized to its output budget at a
# worst-case 4 tokens a character (`memgpt.llm.grammar`): the hosted default of 1,024
# tokens left a message 116 characters; a quarter of the window (2,048 of 8,192) leaves
# it 305, and the FIFO queue still half of the window.
LOCAL_OUTPUT_SHARE = 4
# Kind -> the backend module (`LLMConfig.provider`) that speaks its wire format.
KINDS = {
    "openai-compatible": "openai",
    "ollama": "openai",
    "anthropic": "anthropic",
    "local": "local",
    "scripted": "scripted",  # tests and demos: a Python policy instead of a model
}
# Kinds whose requests go over HTTP to a base URL.
REMOTE_KINDS = ("openai-compatible", "ollama", "anthropic")


class ProviderError(LLMError):
    """A handle or provider setting that cannot be used; one sentence why."""


@dataclass(frozen=True)
class Provider:
    name: str
    kind: str
    base_url: str | None = None
    api_key_env: str | None = None  # None: no key is sent
    context_window: int | None = None
    models: tuple[str, ...] = ()

    @property
    def backend(self) -> str:
        return KINDS[self.kind]


BUILTIN = (
    Provider("openai", "openai-compatible", OPENAI_BASE_URL, "OPENAI_API_KEY"),
    Provider("anthropic", "anthropic", ANTHROPIC_BASE_URL, "ANTHROPIC_API_KEY"),
    # Ollama needs no key: the server's OpenAI key must not reach whatever binds 11434.
    Provider("ollama", "ollama", OLLAMA_BASE_URL),
    Provider("local", "local", models=(LOCAL_DEFAULT_MODEL,)),
    Provider("scripted", "scripted"),
)
FIELDS = ("kind", "base_url", "api_key_env", "context_window", "models")


def split_handle(handle: str) -> tuple[str, str]:
    """(provider, model) of a handle: "openai/gpt-4o-mini"; "local" is the packaged model
    and a bare name ("gpt-4o") means OpenAI."""
    handle = handle.strip()
    if not handle:
        raise ProviderError('The model handle is empty; use e.g. "openai/gpt-4o-mini" or "local".')
    if handle == "local":
        return "local", LOCAL_DEFAULT_MODEL
    provider, sep, model = handle.partition("/")
    if not sep:
        return "openai", handle
    if not model:
        raise ProviderError(f"The model handle {handle!r} names no model; use {provider}/MODEL.")
    return provider, model


class Providers:
    """The registry: providers by name, configured once per process."""

    def __init__(self, providers: Iterable[Provider] = BUILTIN):
        self.by_name = {p.name: p for p in providers}

    def names(self) -> list[str]:
        return [name for name in self.by_name if name != "scripted"]

    def get(self, name: str) -> Provider:
        if name not in self.by_name:
            raise ProviderError(
                f"Unknown provider {name!r}; use one of the configured providers: "
                f"{', '.join(self.names())}."
            )
        return self.by_name[name]

    def config(self, handle: str, **settings: Any) -> LLMConfig:
        """The unresolved config for a handle: provider name and model, plus `settings`
        (context_window, max_output_tokens, temperature) where given, else the provider's
        defaults."""
        name, model = split_handle(handle)
        provider = self.get(name)
        settings = {k: v for k, v in settings.items() if v is not None}
        if provider.context_window and "context_window" not in settings:
            settings["context_window"] = provider.context_window
        if provider.backend == "local" and "max_output_tokens" not in settings:
            window = settings.get("context_window", LLMConfig().context_window)
            settings["max_output_tokens"] = window // LOCAL_OUTPUT_SHARE
        return LLMConfig(provider=provider.backend, provider_name=name, model=model, **settings)

    def provider_of(self, config: LLMConfig) -> Provider:
        """The provider a config belongs to. Configs saved before providers had names are
        known by their backend (and Ollama by its address)."""
        name = config.provider_name
        if name is None:
            name = "ollama" if config.base_url == OLLAMA_BASE_URL else config.provider
        provider = self.get(name)
        if provider.backend != config.provider:
            raise ProviderError(
                f"The provider {name!r} is now a {provider.kind} provider, not the "
                f"{config.provider} one this agent was made with; give the agent another model."
            )
        return provider

    def resolve(self, config: LLMConfig) -> LLMConfig:
        """`config` with its provider's current URL and key variable; whatever URL or key
        the config itself carries is replaced, never followed."""
        provider = self.provider_of(config)
        return config.model_copy(
            update={
                "provider_name": provider.name,
                "base_url": provider.base_url,
                "api_key_env": provider.api_key_env,
            }
        )


def provider_from(
    name: str, entry: Mapping[str, Any], base: Provider | None, where: str
) -> Provider:
    """A provider from a config entry (a `[providers.NAME]` table or environment
    variables), on top of the built-in one of that name if there is one."""
    if "/" in name or not name or name != name.strip():
        raise ProviderError(f"{where}: {name!r} cannot name a provider; use letters and digits.")
    unknown = set(entry) - set(FIELDS)
    if unknown:
        raise ProviderError(
            f"{where}: provider {name!r} has unknown setting {sorted(unknown)[0]!r}; "
            f"the settings are {', '.join(FIELDS)}."
        )
    kind = entry.get("kind", base.kind if base else None)
    if kind not in KINDS or kind == "scripted":
        raise ProviderError(
            f"{where}: provider {name!r} needs a kind: openai-compatible, anthropic, ollama or local."
        )
    values: dict[str, Any] = {k: v for k, v in entry.items() if k != "models"}
    if "models" in entry:
        models = entry["models"]
        if isinstance(models, str):
            models = [m.strip() for m in models.split(",") if m.strip()]
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            raise ProviderError(f"{where}: provider {name!r} models must be a list of names.")
        values["models"] = tuple(models)
    provider = replace(base, **values) if base else Provider(name=name, **values)
    return checked(provider, where)


def checked(provider: Provider, where: str) -> Provider:
    if provider.kind in REMOTE_KINDS:
        url = urlparse(provider.base_url or "")
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ProviderError(
                f"{where}: provider {provider.name!r} needs a base_url starting with http:// or "
                "https://."
            )
    elif provider.base_url or provider.api_key_env:
        raise ProviderError(
            f"{where}: provider {provider.name!r} runs in this process; it takes no base_url "
            "or api_key_env."
        )
    window = provider.context_window
    if window is not None and (not isinstance(window, int) or window <= 0):
        raise ProviderError(
            f"{where}: provider {provider.name!r} context_window must be a positive whole number."
        )
    return provider
