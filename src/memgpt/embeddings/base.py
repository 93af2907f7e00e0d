"""The one protocol every embedding backend implements."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from memgpt.errors import MemGPTError

if TYPE_CHECKING:
    import numpy as np


class EmbeddingError(MemGPTError):
    """The embedder could not run; the message is one sentence a user can act on."""


@runtime_checkable
class Embedder(Protocol):
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return a float32 array of shape (len(texts), dim), each row L2-normalized."""
        ...
