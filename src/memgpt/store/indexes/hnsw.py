"""Approximate nearest-neighbour search over passage embeddings, on disk next to the store.

An HNSW graph (usearch) with cosine distance. Keys are the store's int64 row ids,
so the index holds no text and can always be rebuilt from the store's vectors.

Vectors are kept as f16 by default: half the memory and file size of f32, and
on unit-length embeddings the rounding moves cosine scores by about 1e-3,
which does not change the top 10 (see the recall test). `expansion_search` is
256 because `memgpt bench archival` at a million real-text-derived 384-d vectors
measured recall@10 0.923 at 128 and 0.969 at 256 (p50 3.5 ms and 4.6 ms); it can
be changed per index, trading latency for recall.

Bounded memory: `VectorIndex(path, dim, view=True)` memory-maps the saved file
instead of reading it, so a search-only process pays only for the pages it
touches. A viewed index is read-only (usearch cannot grow a mapped file).

Removal in HNSW leaves tombstones that still route searches; after removing a
large share of the vectors, the owner's index is rebuilt from the store (`owners.py`).
One writer at a time: the caller serialises add/remove/save.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from memgpt.private import private_dir

if TYPE_CHECKING:
    from usearch.index import Index

DEFAULT_DTYPE = "f16"
DEFAULT_CONNECTIVITY = 16
DEFAULT_EXPANSION_ADD = 128
DEFAULT_EXPANSION_SEARCH = 256
# Threads inserting into a graph (0: one per core). Parallel insertion makes the graph
# depend on thread timing (a top-5 of 300 vectors missed one in about 300 builds); one
# thread builds the same graph every time.
ADD_THREADS = 0


class VectorIndex:
    def __init__(
        self,
        path: str | os.PathLike[str],
        dim: int,
        *,
        dtype: str = DEFAULT_DTYPE,
        connectivity: int = DEFAULT_CONNECTIVITY,
        expansion_add: int = DEFAULT_EXPANSION_ADD,
        expansion_search: int = DEFAULT_EXPANSION_SEARCH,
        view: bool = False,
    ) -> None:
        """Open the index saved at `path`, or start an empty one there if none exists.

        With `view=True` the saved file is memory-mapped read-only; it must exist.
        """
        self.path = Path(path)
        self.dim = dim
        self.view = view
        self._params = {
            "dtype": dtype,
            "connectivity": connectivity,
            "expansion_add": expansion_add,
            "expansion_search": expansion_search,
        }
        if view and not self.path.exists():
            raise FileNotFoundError(
                f"No saved vector index at {self.path} to view; save one first."
            )
        self._index = self._new()
        if self.path.exists():
            self.load()

    def _new(self) -> Index:
        from usearch.index import Index  # here: opening a store need not import usearch

        return Index(ndim=self.dim, metric="cos", **self._params)

    def __len__(self) -> int:
        return len(self._index)

    @property
    def expansion_search(self) -> int:
        return int(self._params["expansion_search"])

    @expansion_search.setter
    def expansion_search(self, value: int) -> None:
        """Candidates kept while walking the graph: more is higher recall and slower search."""
        if value < 1:
            raise ValueError("expansion_search must be at least 1.")
        self._params["expansion_search"] = value
        self._index.expansion_search = value

    def load(self) -> None:
        """(Re)read the saved file, replacing what is in memory."""
        from usearch.index import Index

        meta = Index.metadata(str(self.path))
        if meta is None:
            raise ValueError(f"{self.path} is not a usearch index file; delete it and rebuild.")
        if meta["dimensions"] != self.dim:
            raise ValueError(
                f"{self.path} holds {meta['dimensions']}-d vectors but {self.dim}-d were "
                "expected; the embedding model changed, so rebuild the index."
            )
        index = self._new()
        if self.view:
            index.view(str(self.path))
        else:
            index.load(str(self.path))
        # Search-time expansion is not stored in the file.
        index.expansion_search = self._params["expansion_search"]
        self._index = index

    def save(self) -> None:
        """Write the index to `path` atomically: a crash mid-save leaves the old file intact."""
        self._require_writable()
        private_dir(self.path.parent)
        tmp = self.path.with_name(self.path.name + ".tmp")
        self._index.save(str(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Insert vectors under int64 keys; a key already present is replaced."""
        self._require_writable()
        ukeys = _as_keys(keys)
        vecs = self._as_vectors(vectors)
        if len(ukeys) != len(vecs):
            raise ValueError(f"Got {len(ukeys)} keys for {len(vecs)} vectors.")
        if len(np.unique(ukeys)) != len(ukeys):
            raise ValueError("Keys in one add must be distinct.")
        if len(ukeys) == 0:
            return
        present = np.atleast_1d(self._index.contains(ukeys))
        if present.any():
            self._index.remove(ukeys[present])
        self._index.add(ukeys, vecs, threads=ADD_THREADS)

    def remove(self, keys: np.ndarray) -> int:
        """Remove keys (absent ones are ignored); returns how many were removed."""
        self._require_writable()
        ukeys = _as_keys(keys)
        if len(ukeys) == 0:
            return 0
        return int(np.sum(self._index.remove(ukeys)))

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest keys (int64) and their cosine similarities, most similar first."""
        query = self._as_vectors(vector)
        if query.shape[0] != 1:
            raise ValueError("search takes one query vector.")
        if k < 1 or len(self._index) == 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        matches = self._index.search(query[0], k)
        keys = np.asarray(matches.keys, dtype=np.int64)
        scores = (1.0 - np.asarray(matches.distances, dtype=np.float32)).astype(np.float32)
        return keys, scores

    def _require_writable(self) -> None:
        if self.view:
            raise PermissionError(
                f"The vector index at {self.path} is opened as a read-only view; "
                "open it without view=True to change it."
            )

    def _as_vectors(self, vectors: np.ndarray) -> np.ndarray:
        vecs = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if vecs.ndim != 2 or vecs.shape[1] != self.dim:
            raise ValueError(f"Expected vectors of dimension {self.dim}, got shape {vecs.shape}.")
        norms = np.linalg.norm(vecs, axis=1)
        # Cosine similarity is undefined for zero or non-finite vectors.
        if not np.all(np.isfinite(norms)) or np.any(norms == 0):
            raise ValueError("Vectors must be finite and non-zero for cosine similarity.")
        return np.ascontiguousarray(vecs)


def _as_keys(keys: np.ndarray) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(keys))
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError("Keys must be a 1-d array of integers.")
    if arr.size and arr.min() < 0:
        raise ValueError("Keys must be non-negative (they are row ids).")
    return arr.astype(np.uint64)
