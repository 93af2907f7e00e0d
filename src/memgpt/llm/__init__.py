"""Model backends behind one protocol (`memgpt.llm.base.LLMClient`), picked by `LLMConfig.provider`.

Backends are imported lazily so that using one never requires the others' SDKs
(or llama.cpp) to be installed or imported.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from memgpt.llm.base import ChatMessage, FunctionSchema, LLMClient, LLMError, LLMReply
from memgpt.schemas import LLMConfig

__all__ = [
    "ChatMessage",
    "FunctionSchema",
    "LLMClient",
    "LLMError",
    "LLMReply",
    "create_llm",
    "parse_model_string",
]

OLLAMA_BASE_URL = "http://localhost:11434/v1"


def create_llm(config: LLMConfig) -> LLMClient:
    """The backend for `config.provider`."""
    if config.provider == "openai":
        from memgpt.llm.openai_compat import OpenAIChat

        return OpenAIChat(config)
    if config.provider == "anthropic":
        from memgpt.llm.anthropic import AnthropicChat

        return AnthropicChat(config)
    if config.provider == "local":
        from memgpt.llm.local import LocalLlama

        return LocalLlama(config)
    if config.provider == "scripted":
        from memgpt.llm.scripted import ScriptedLLM

        return ScriptedLLM.from_config(config)
    raise LLMError(
        f"Unknown LLM provider {config.provider!r}; use openai, anthropic, local or scripted."
    )


def parse_model_string(spec: str) -> LLMConfig:
    """An `LLMConfig` from a "provider/model" string as typed on the command line.

    "openai/gpt-4o-mini", "anthropic/claude-...", "ollama/llama3.1" (an OpenAI-compatible
    server on localhost), "local" (the packaged SmolLM2) or "local/path/to/file.gguf";
    a name without a provider ("gpt-4o") means OpenAI.
    """
    spec = spec.strip()
    if not spec:
        raise LLMError('The model string is empty; use e.g. "openai/gpt-4o-mini" or "local".')
    if spec == "local":
        return LLMConfig(provider="local", model="smollm2")
    provider, sep, model = spec.partition("/")
    if not sep:
        return LLMConfig(provider="openai", model=spec)
    if not model:
        raise LLMError(f"The model string {spec!r} names no model; use {provider}/MODEL.")
    if provider == "openai":
        return LLMConfig(provider="openai", model=model)
    if provider == "anthropic":
        return LLMConfig(provider="anthropic", model=model)
    if provider == "ollama":
        return LLMConfig(provider="openai", model=model, base_url=OLLAMA_BASE_URL)
    if provider == "local":
        return LLMConfig(provider="local", model=model)
    if provider == "scripted":  # tests and demos: "scripted/package.module:policy"
        return LLMConfig(provider="scripted", model=model)
    raise LLMError(
        f"Unknown provider {provider!r} in {spec!r}; use openai/, anthropic/, ollama/ or local."
    )


# --- helpers shared by the hosted-API backends (openai_compat, anthropic) ---


def resolve_api_key(config: LLMConfig, default_env: str, official_host: str) -> str | None:
    """The API key from the environment variable the config names, or None if unset.

    Raises when the endpoint is the provider's official API and no key is set. Other
    endpoints (Ollama, vLLM, llama.cpp server, LM Studio, a LAN box) often need no key;
    if one does, its 401 answer produces the same advice.
    """
    env = config.api_key_env or default_env
    key = os.environ.get(env) or None
    if key is None and is_official(config, official_host):
        raise LLMError(f"No API key found: set {env} or run `memgpt configure`.")
    return key


def is_official(config: LLMConfig, official_host: str) -> bool:
    """Whether the config talks to the provider's own API (no base URL, or its host)."""
    return config.base_url is None or urlparse(config.base_url).hostname == official_host


def status_error_message(
    status: int, *, url: str, model: str, key_env: str, key_missing: bool, retries: int, detail: str
) -> str:
    """One actionable sentence for an HTTP error status from a chat endpoint."""
    if status == 401:
        if key_missing:
            return (
                f"The server at {url} requires an API key: set {key_env} or run `memgpt configure`."
            )
        return f"The server at {url} rejected the API key in {key_env}: set a valid key or run `memgpt configure`."
    if status == 403:
        return f"The API key in {key_env} is not allowed to use model {model!r} at {url}: check the account's access."
    if status == 404:
        return f"Model {model!r} was not found at {url}: check the model name and the base URL."
    if status == 429:
        return f"The server at {url} is still rate limiting after {retries} retries: wait a minute or check your quota."
    if status >= 500:
        return f"The server at {url} failed with HTTP {status} after {retries} retries: try again later."
    return f"The server at {url} refused the request with HTTP {status} ({detail}): check the model settings."


def connection_error_message(url: str, *, timed_out: bool, timeout_s: float, retries: int) -> str:
    if timed_out:
        return (
            f"The model at {url} did not answer within {timeout_s:g} s ({retries} retries): "
            "raise the timeout or try again later."
        )
    return f"Cannot reach {url}: check that the server is running and the base URL is right."
