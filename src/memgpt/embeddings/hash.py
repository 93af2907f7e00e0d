"""A deterministic, dependency-free embedder for tests: signed feature hashing of words.

Texts that share words share hashed features, so cosine similarity tracks word
overlap and tests of semantic search stay meaningful without a model. The hash is
blake2b, not Python's `hash()`, which is salted per process and would make
vectors differ between runs.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import numpy as np

_WORD = re.compile(r"\w+")
# Bigrams add word-order signal but should not outweigh the words themselves.
_BIGRAM_WEIGHT = 0.5
# Every empty text maps to this one feature, so it still gets a unit vector.
_EMPTY_FEATURE = "\x00empty"


@lru_cache(maxsize=65536)
def _slot(feature: str, dim: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    # The low bit picks the sign so colliding features cancel rather than pile up.
    sign = 1.0 if value & 1 else -1.0
    return (value >> 1) % dim, sign


class HashEmbedder:
    def __init__(self, dim: int = 384) -> None:
        if dim <= 0:
            raise ValueError("dim must be positive")
        self.dim = dim

    def _features(self, text: str) -> list[tuple[str, float]]:
        words = _WORD.findall(text.lower())
        if not words:
            return [(_EMPTY_FEATURE, 1.0)]
        features = [(w, 1.0) for w in words]
        features += [(f"{a} {b}", _BIGRAM_WEIGHT) for a, b in zip(words, words[1:], strict=False)]
        return features

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature, weight in self._features(text):
                index, sign = _slot(feature, self.dim)
                out[row, index] += sign * weight
            norm = np.linalg.norm(out[row])
            # Features can cancel exactly (e.g. two colliding opposite-sign words);
            # fall back to the empty-text vector rather than divide by zero.
            if norm == 0.0:
                index, sign = _slot(_EMPTY_FEATURE, self.dim)
                out[row, index] = sign
                norm = 1.0
            out[row] /= norm
        return out
