"""Embeddings from any OpenAI-compatible /v1/embeddings endpoint, through the official SDK."""

from __future__ import annotations

import os

import numpy as np
import openai

from memgpt.embeddings.base import EmbeddingError
from memgpt.schemas import EmbeddingConfig

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
# Local servers (llama.cpp, vLLM, Ollama) ignore the key, but the SDK insists on one.
_NO_KEY = "not-needed"


class OpenAIEmbedder:
    def __init__(
        self,
        config: EmbeddingConfig,
        batch_size: int = 256,
        timeout_s: float = 60.0,
        max_retries: int = 2,
    ) -> None:
        self.dim = config.dim
        self.model = config.model
        self.batch_size = batch_size
        self._endpoint = config.base_url or "https://api.openai.com/v1"
        # OpenAI's variable goes to OpenAI only; another endpoint gets the variable it names.
        key_env = config.api_key_env or (None if config.base_url else DEFAULT_KEY_ENV)
        api_key = os.environ.get(key_env) if key_env else None
        if not api_key:
            # A key is only required when one was asked for, or for OpenAI itself.
            if config.api_key_env or not config.base_url:
                raise EmbeddingError(
                    f"Set the environment variable {key_env} to your embedding API key."
                )
            api_key = _NO_KEY
        self._key_env = key_env
        self._client = openai.OpenAI(
            api_key=api_key, base_url=config.base_url, timeout=timeout_s, max_retries=max_retries
        )

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            out[start : start + len(batch)] = self._request(batch)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def _request(self, batch: list[str]) -> np.ndarray:
        # The API rejects empty strings; a space embeds as "no content" instead.
        inputs = [t if t else " " for t in batch]
        try:
            response = self._client.embeddings.create(
                model=self.model, input=inputs, encoding_format="float"
            )
        except openai.AuthenticationError:
            if self._key_env is None:
                raise EmbeddingError(
                    f"The embedding endpoint {self._endpoint} requires an API key; name its "
                    "variable with MEMGPT_EMBEDDING_API_KEY_ENV."
                ) from None
            raise EmbeddingError(
                f"The embedding endpoint {self._endpoint} rejected the API key in {self._key_env}; check it."
            ) from None
        except openai.NotFoundError:
            raise EmbeddingError(
                f"The embedding endpoint {self._endpoint} has no model {self.model!r}; check the model name and base_url."
            ) from None
        except openai.APIConnectionError:
            raise EmbeddingError(
                f"Could not reach the embedding endpoint {self._endpoint}; check base_url and that the server is running."
            ) from None
        except openai.APIStatusError as exc:
            raise EmbeddingError(
                f"The embedding endpoint {self._endpoint} answered HTTP {exc.status_code} for model {self.model!r}: {_detail(exc)}"
            ) from None
        rows = sorted(response.data, key=lambda d: d.index)
        if len(rows) != len(batch):
            raise EmbeddingError(
                f"The embedding endpoint {self._endpoint} returned {len(rows)} vectors for {len(batch)} texts."
            )
        vectors = np.asarray([r.embedding for r in rows], dtype=np.float32)
        if vectors.shape[1] != self.dim:
            raise EmbeddingError(
                f"Model {self.model!r} returns {vectors.shape[1]}-dimensional vectors but the embedding dim is set to {self.dim}; set it to {vectors.shape[1]}."
            )
        return vectors


def _detail(exc: openai.APIStatusError) -> str:
    # Servers disagree on the error body: {"message": ...}, {"error": {"message": ...}}
    # or {"error": "..."}; the SDK hands us what is inside its "error" key when present.
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error")
        message = body.get("message") or (
            error.get("message") if isinstance(error, dict) else error
        )
        if message:
            return str(message)
    return exc.message
