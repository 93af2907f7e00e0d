"""Embedding backends behind one protocol; `create_embedder` picks one from a config.

Backends are imported lazily so that, e.g., the hash embedder used in tests never
loads onnxruntime, and the local model never loads the OpenAI SDK.
"""

from __future__ import annotations

from memgpt.embeddings.base import Embedder, EmbeddingError
from memgpt.schemas import EmbeddingConfig

__all__ = ["Embedder", "EmbeddingError", "create_embedder"]


def create_embedder(config: EmbeddingConfig) -> Embedder:
    if config.provider == "hash":
        from memgpt.embeddings.hash import HashEmbedder

        return HashEmbedder(dim=config.dim)
    if config.provider == "openai":
        from memgpt.embeddings.openai_compat import OpenAIEmbedder

        return OpenAIEmbedder(config)
    if config.provider == "local":
        from memgpt.embeddings.local import DIM, LocalMiniLM

        if config.dim != DIM:
            raise EmbeddingError(
                f"The local model makes {DIM}-dimensional vectors; set the embedding dim to {DIM}."
            )
        return LocalMiniLM()
    raise EmbeddingError(
        f"Unknown embedding provider {config.provider!r}; use hash, openai or local."
    )
