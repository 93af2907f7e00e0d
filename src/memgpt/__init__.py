"""memgpt: LLM agents that manage their own memory, as in MemGPT (Packer et al. 2023)."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memgpt.agent.agent import Agent
    from memgpt.client import MemGPT
    from memgpt.schemas import Block, EmbeddingConfig, LLMConfig, Response, StopReason

# Imported on first use, so `memgpt --help` does not pay for the whole runtime.
_EXPORTS = {
    "Agent": "memgpt.agent.agent",
    "MemGPT": "memgpt.client",
    "Block": "memgpt.schemas",
    "EmbeddingConfig": "memgpt.schemas",
    "LLMConfig": "memgpt.schemas",
    "Response": "memgpt.schemas",
    "StopReason": "memgpt.schemas",
}

__all__ = ["Agent", "Block", "EmbeddingConfig", "LLMConfig", "MemGPT", "Response", "StopReason"]


def __getattr__(name: str) -> object:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'memgpt' has no attribute {name!r}")
