"""Embedding backends behind one protocol (`memgpt.embeddings.base.Embedder`), picked by provider."""

from __future__ import annotations

from memgpt.embeddings.base import Embedder
from memgpt.schemas import EmbeddingConfig


def create_embedder(config: EmbeddingConfig) -> Embedder:
    if config.provider == "hash":
        from memgpt.embeddings.hash import HashEmbedder

        return HashEmbedder(dim=config.dim)
    if config.provider == "openai":
        from memgpt.embeddings.openai_compat import OpenAIEmbedder

        return OpenAIEmbedder(config)
    from memgpt.embeddings.local import LocalMiniLM

    return LocalMiniLM()
