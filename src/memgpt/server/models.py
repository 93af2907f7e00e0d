"""What a request asks of the model and embedding: applied when it names a configured
provider and model, else refused with a sentence saying why; never silently replaced.

A request names a model by handle ("provider/model") or by Letta's `llm_config`; the
provider's URL and key come from the server's registry (`memgpt.llm.providers`), so no
request field can send a key anywhere new.
"""

from __future__ import annotations

from typing import Any

from memgpt import config
from memgpt.errors import MemGPTError
from memgpt.llm.providers import Provider, Providers, split_handle
from memgpt.schemas import EmbeddingConfig, LLMConfig
from memgpt.server.requests import EmbeddingSettings, ModelSettings

# Provider kind -> Letta's model_endpoint_type and provider_type. The in-process kinds are
# served by this server itself, as Letta's own "letta" provider is.
ENDPOINT_TYPES = {
    "openai-compatible": "openai",
    "ollama": "ollama",
    "anthropic": "anthropic",
    "local": "llamacpp",
    "scripted": "openai",
}
PROVIDER_TYPES = {**ENDPOINT_TYPES, "local": "letta", "scripted": "letta"}
EMBEDDING_ENDPOINT_TYPES = {"openai": "openai", "local": "hugging-face", "hash": "hugging-face"}
# Set fields of Letta's llm_config that memgpt does by construction.
_ALREADY_SO = {"put_inner_thoughts_in_kwargs": True, "provider_category": "base"}


class ModelChoiceError(MemGPTError):
    """A model or embedding a request asked for that this server cannot give as asked."""


def _refuse_extra(what: str, settings: ModelSettings | EmbeddingSettings) -> None:
    for name, value in (settings.model_extra or {}).items():
        if value is not None and _ALREADY_SO.get(name) != value:
            raise ModelChoiceError(
                f"memgpt does not implement {what}.{name}; leave it out (the model is chosen "
                "by handle, context_window, max_tokens and temperature)."
            )


class ModelChoice:
    def __init__(self, providers: Providers, default_model: str, embedding: EmbeddingConfig):
        self.providers = providers
        self.default_model = default_model
        self.default_embedding = embedding

    # language models

    def llm(
        self,
        model: str | None,
        settings: ModelSettings | None,
        window: int | None,
        max_tokens: int | None,
        current: LLMConfig | None = None,
    ) -> LLMConfig | None:
        """The config a create (`current` None) or modify asks for; None when a modify
        asks for no change."""
        s = settings or ModelSettings()
        if settings is not None:
            _refuse_extra("llm_config", settings)
        handle = self._handle(model, s)
        window = window or s.context_window
        max_tokens = max_tokens or s.max_tokens
        if handle is None and current is not None:
            if not (window or max_tokens or s.temperature is not None):
                return None
            handle = current.handle
            update = {"context_window": window, "max_output_tokens": max_tokens}
            update["temperature"] = s.temperature
            keep = {k: v for k, v in update.items() if v is not None}
            config_ = current.model_copy(update=keep)
        else:
            if handle is not None:
                self._check_choice(handle)
            config_ = self.providers.config(
                handle or self.default_model,
                context_window=window,
                max_output_tokens=max_tokens,
                temperature=s.temperature,
            )
        self._check_endpoint(self.providers.provider_of(config_), s)
        return config_

    def _handle(self, model: str | None, s: ModelSettings) -> str | None:
        named = s.handle or (
            f"{s.provider_name or _provider_for(s.model_endpoint_type)}/{s.model}"
            if s.model
            else None
        )
        if model and named and split_handle(model) != split_handle(named):
            raise ModelChoiceError(
                f"model {model!r} and llm_config {named!r} name different models; give one."
            )
        return model or named

    def _check_endpoint(self, provider: Provider, s: ModelSettings) -> None:
        if s.model_endpoint and s.model_endpoint.rstrip("/") != (provider.base_url or "").rstrip(
            "/"
        ):
            raise ModelChoiceError(
                f"llm_config.model_endpoint {s.model_endpoint!r} is not the address of provider "
                f"{provider.name!r}; requests cannot choose URLs: leave it out, or add a "
                "provider to the server's config."
            )
        expected = ENDPOINT_TYPES[provider.kind]
        # An OpenAI-compatible server (Ollama too) is also rightly called "openai".
        allowed = {expected, "openai"} if provider.backend == "openai" else {expected}
        if s.model_endpoint_type and s.model_endpoint_type not in allowed:
            raise ModelChoiceError(
                f"llm_config.model_endpoint_type {s.model_endpoint_type!r} does not match "
                f"provider {provider.name!r}, which is {expected!r}; leave it out or fix it."
            )

    def _check_choice(self, handle: str) -> None:
        """Callers pick hosted models or the packaged local one. A model file on this
        machine, or a scripted policy (a Python import), runs only as the server's own
        default, which whoever started it chose: a caller naming another would have the
        server open files or import code of the caller's choosing."""
        name, model = split_handle(handle)
        kind = self.providers.get(name).kind
        if kind not in ("local", "scripted") or (name, model) == split_handle("local"):
            return
        if (name, model) != split_handle(self.default_model):
            raise ModelChoiceError(
                f"This server does not let callers choose the {name} model {model!r}; use a "
                "hosted model such as 'openai/gpt-4o-mini', or 'local'."
            )

    def resolve(self, config_: LLMConfig) -> LLMConfig:
        return self.providers.resolve(config_)

    # embeddings

    def embedding(
        self, handle: str | None, settings: EmbeddingSettings | None
    ) -> EmbeddingConfig | None:
        """The embedding asked for; None when nothing was."""
        s = settings or EmbeddingSettings()
        if settings is not None:
            _refuse_extra("embedding_config", settings)
        named = s.handle or (
            f"{_embedding_provider(s.embedding_endpoint_type, s.embedding_model)}/{s.embedding_model}"
            if s.embedding_model
            else None
        )
        if handle and named and handle != named:
            raise ModelChoiceError(
                f"embedding {handle!r} and embedding_config {named!r} differ; give one."
            )
        handle = handle or named
        if handle is None:
            if s.embedding_endpoint or s.embedding_dim:
                handle = f"{self.default_embedding.provider}/{self.default_embedding.model}"
            else:
                return None
        chosen = self._embedding_from_handle(handle)
        if s.embedding_endpoint and s.embedding_endpoint != chosen.base_url:
            raise ModelChoiceError(
                f"embedding_config.embedding_endpoint {s.embedding_endpoint!r} is not this "
                "server's embedding endpoint; requests cannot choose URLs: leave it out."
            )
        if s.embedding_dim and s.embedding_dim != chosen.dim:
            raise ModelChoiceError(
                f"embedding_config.embedding_dim is {s.embedding_dim} but {handle} gives "
                f"{chosen.dim}-dimensional vectors; leave it out or pick a model of that size."
            )
        return chosen

    def _embedding_from_handle(self, handle: str) -> EmbeddingConfig:
        provider, _, model = handle.partition("/")
        if provider not in config.EMBEDDING_MODELS:
            raise ModelChoiceError(
                f"Unknown embedding {handle!r}; use one of {', '.join(config.EMBEDDING_MODELS)}, "
                "e.g. 'openai/text-embedding-3-small'."
            )
        default = self.default_embedding
        if provider == default.provider and model in ("", default.model):
            return default  # the server's own, with its configured endpoint and key
        default_model, dim = config.EMBEDDING_MODELS[provider]
        if model not in ("", default_model):
            raise ModelChoiceError(
                f"This server has no embedding model {handle!r}; use "
                f"{default.provider}/{default.model} or {provider}/{default_model}."
            )
        return EmbeddingConfig(provider=provider, model=default_model, dim=dim)


def _provider_for(endpoint_type: str | None) -> str:
    """The built-in provider Letta's model_endpoint_type means, when no handle is given."""
    return {"anthropic": "anthropic", "ollama": "ollama", "llamacpp": "local"}.get(
        endpoint_type or "", "openai"
    )


def _embedding_provider(endpoint_type: str | None, model: str) -> str:
    for provider, (name, _dim) in config.EMBEDDING_MODELS.items():
        if name == model:
            return provider
    return "openai" if endpoint_type in (None, "openai") else "local"


def llm_models(providers: Providers, listed: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Letta's model list: each provider's configured models and those it listed."""
    out = []
    for name in providers.names():
        provider = providers.get(name)
        for model in dict.fromkeys([*provider.models, *listed.get(name, [])]):
            config_ = providers.resolve(providers.config(f"{name}/{model}"))
            out.append(model_entry(provider, config_))
    return out


def model_entry(provider: Provider, c: LLMConfig) -> dict[str, Any]:
    """One model in Letta's shape: an llm_config (0.1.x) with the 1.x Model's fields."""
    return {
        "model": c.model,
        "name": c.model,
        "display_name": c.model,
        "handle": c.handle,
        "model_type": "llm",
        "model_endpoint_type": ENDPOINT_TYPES[provider.kind],
        "model_endpoint": c.base_url,
        "provider_name": provider.name,
        "provider_type": PROVIDER_TYPES[provider.kind],
        "provider_category": "base",
        "context_window": c.context_window,
        "max_context_window": c.context_window,
        "max_tokens": c.max_output_tokens,
        "temperature": c.temperature,
        "put_inner_thoughts_in_kwargs": True,
    }


def embedding_models(default: EmbeddingConfig) -> list[dict[str, Any]]:
    """The embedding models this server can give: its configured one, then the others'
    defaults."""
    configs = [default] + [
        EmbeddingConfig(provider=p, model=m, dim=d)
        for p, (m, d) in config.EMBEDDING_MODELS.items()
        if (p, m) != (default.provider, default.model)
    ]
    return [
        {
            "name": c.model,
            "display_name": c.model,
            "handle": f"{c.provider}/{c.model}",
            "model_type": "embedding",
            "embedding_model": c.model,
            "embedding_dim": c.dim,
            "embedding_endpoint_type": EMBEDDING_ENDPOINT_TYPES[c.provider],
            "embedding_endpoint": c.base_url,
            "provider_name": c.provider,
            "provider_type": "openai" if c.provider == "openai" else "hugging-face",
        }
        for c in configs
    ]
