"""The models each provider offers, asked of the provider itself (`GET {base_url}/models`)
and kept briefly, so a model list costs one request per provider a minute.

A provider that cannot be reached is reported with a sentence, never fatal. A provider
whose key variable is unset is not asked (its own API would refuse), and a key goes only
to its provider's URL, as for chat.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from memgpt.llm import short
from memgpt.llm.providers import Provider, Providers

log = logging.getLogger(__name__)

TTL_S = 60.0
TIMEOUT_S = 2.0  # a listing must not hold a request for long
ANTHROPIC_VERSION = "2023-06-01"


def ask(provider: Provider) -> list[str]:
    """The model ids the provider lists; `httpx.HTTPError` when it cannot be reached,
    `ValueError` when its answer is not a model list."""
    import httpx  # here: the server starts without it (a good part of a second to import)

    headers = {}
    key = os.environ.get(provider.api_key_env) if provider.api_key_env else None
    base = (provider.base_url or "").rstrip("/")
    if provider.kind == "anthropic":
        url = f"{base}/v1/models"
        headers["anthropic-version"] = ANTHROPIC_VERSION
        if key:
            headers["x-api-key"] = key
    else:
        url = f"{base}/models"
        if key:
            headers["authorization"] = f"Bearer {key}"
    response = httpx.get(url, headers=headers, timeout=TIMEOUT_S, follow_redirects=False)
    if response.status_code != 200:
        raise ValueError(f"HTTP {response.status_code} from {url}: {short(response.text, 120)}")
    data = response.json().get("data")
    if not isinstance(data, list):
        raise ValueError(f"{url} did not answer with a model list")
    return [str(m["id"]) for m in data if isinstance(m, dict) and m.get("id")]


class Catalog:
    def __init__(self, providers: Providers, ttl_s: float = TTL_S):
        self.providers = providers
        self.ttl_s = ttl_s
        self._seen: dict[str, tuple[float, list[str], str | None]] = {}
        self._lock = threading.Lock()

    def listed(self, name: str) -> tuple[list[str], str | None]:
        """(the models provider `name` lists, the sentence saying why it could not be
        asked, or None)."""
        provider = self.providers.get(name)
        if provider.kind not in ("openai-compatible", "ollama", "anthropic"):
            return [], None
        if provider.api_key_env and not os.environ.get(provider.api_key_env):
            return [], f"{provider.api_key_env} is not set, so provider {name!r} was not asked."
        with self._lock:
            seen = self._seen.get(name)
        if seen and time.monotonic() - seen[0] < self.ttl_s:
            return seen[1], seen[2]
        import httpx

        try:
            models, error = ask(provider), None
        except (httpx.HTTPError, ValueError) as exc:
            models = []
            error = f"Provider {name!r} at {provider.base_url} could not list its models ({short(str(exc), 160)})."
            log.warning("%s", error)
        with self._lock:
            self._seen[name] = (time.monotonic(), models, error)
        return models, error
