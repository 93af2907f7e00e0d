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
    """An `LLMConfig` from a "provider/model" handle as typed on the command line, against
    the built-in providers (`memgpt.llm.providers`): "openai/gpt-4o-mini",
    "anthropic/claude-...", "ollama/llama3.1", "local" (the packaged SmolLM2) or
    "local/path/to/file.gguf"; a name without a provider ("gpt-4o") means OpenAI."""
    from memgpt.llm.providers import Providers

    registry = Providers()
    return registry.resolve(registry.config(spec))


# --- helpers shared by the hosted-API backends (openai_compat, anthropic) ---


def resolve_api_key(config: LLMConfig, default_env: str, official_host: str) -> str | None:
    """The API key from the environment variable the config names, or None if unset.

    Raises when the endpoint is the provider's official API and no key is set. Other
    endpoints (Ollama, vLLM, llama.cpp server, LM Studio, a LAN box) often need no key;
    if one does, its 401 answer produces the same advice.
    """
    official = is_official(config, official_host)
    # The provider's default variable belongs to its own API; another address gets a key
    # only from the variable its configuration names (DESIGN invariant 8).
    env = config.api_key_env or (default_env if official else None)
    key = (os.environ.get(env) or None) if env else None
    if key is None and official:
        raise LLMError(f"No API key found: set {env} or run `memgpt configure`.")
    return key


def is_official(config: LLMConfig, official_host: str) -> bool:
    """Whether the config talks to the provider's own API (no base URL, or its host)."""
    return config.base_url is None or urlparse(config.base_url).hostname == official_host


def status_error_message(
    status: int,
    *,
    url: str,
    model: str,
    key_env: str | None,
    key_missing: bool,
    retries: int,
    detail: str,
) -> str:
    """One actionable sentence for an HTTP error status from a chat endpoint."""
    if status == 401:
        if key_missing and key_env is None:
            return (
                f"The server at {url} requires an API key: name the variable holding it with "
                "the provider's api_key_env (MEMGPT_API_KEY_ENV for the default model)."
            )
        if key_missing:
            return (
                f"The server at {url} requires an API key: set {key_env} or run `memgpt configure`."
            )
        return f"The server at {url} rejected the API key in {key_env}: set a valid key or run `memgpt configure`."
    if status == 403:
        whose = f"The API key in {key_env}" if key_env else "This server"
        return (
            f"{whose} is not allowed to use model {model!r} at {url}: check the account's access."
        )
    detail = short(detail)
    if status == 404:
        return f"Model {model!r} was not found at {url} (HTTP 404, {detail}): check the model name and the base URL."
    if status == 429:
        return f"The server at {url} is still rate limiting after {retries} retries (HTTP 429, {detail}): wait a minute or check your quota."
    if status >= 500:
        return f"The server at {url} failed with HTTP {status} after {retries} retries ({detail}): try again later."
    return f"The server at {url} refused the request with HTTP {status} ({detail}): check the model settings."


def short(detail: str, limit: int = 200) -> str:
    """A provider's error text fit for the middle of one sentence: one line, no closing
    period, at most `limit` characters."""
    text = " ".join(detail.split()).rstrip(".")
    text = text.replace(". ", "; ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def where(config: LLMConfig, base_url: str) -> str:
    """How errors name the model's address: its URL, and its provider when it has one."""
    return f"{base_url} (provider {config.provider_name!r})" if config.provider_name else base_url


def connection_error_message(url: str, *, timed_out: bool, timeout_s: float, retries: int) -> str:
    if timed_out:
        return (
            f"The model at {url} did not answer within {timeout_s:g} s ({retries} retries): "
            "raise the timeout or try again later."
        )
    return f"Cannot reach {url}: check that the server is running and the base URL is right."
