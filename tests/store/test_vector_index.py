"""The ANN index agrees with exact search, forgets removed keys, and survives save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from memgpt.store.indexes.hnsw import VectorIndex

DIM = 64


def clustered(n: int, seed: int = 0, clusters: int = 50) -> np.ndarray:
    """Unit vectors drawn around cluster centres: like embeddings, unlike pure Gaussian noise."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, DIM))
    x = centres[rng.integers(0, clusters, n)] + 0.5 * rng.standard_normal((n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def exact(data: np.ndarray, keys: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    return keys[np.argsort(-(data @ q))[:k]]


@pytest.fixture
def filled(tmp_path: Path) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    data = clustered(5000)
    keys = np.arange(1000, 6000, dtype=np.int64)
    index = VectorIndex(tmp_path / "idx.usearch", DIM)
    index.add(keys, data)
    return index, keys, data


def test_recall_against_exact_search(filled) -> None:
    index, keys, data = filled
    queries = clustered(200, seed=1)
    hits = 0
    for q in queries:
        got, scores = index.search(q, 10)
        hits += len(set(got.tolist()) & set(exact(data, keys, q, 10).tolist()))
        # Scores are cosine similarities, best first.
        want = data[np.searchsorted(keys, got)] @ q
        np.testing.assert_allclose(scores, want, atol=5e-3)
        assert np.all(np.diff(scores) <= 1e-6)
    assert hits / (10 * len(queries)) >= 0.95
    assert len(index) == 5000


def test_removed_keys_are_never_returned(filled) -> None:
    index, keys, data = filled
    removed = keys[::3]
    assert index.remove(np.append(removed, 999_999)) == len(removed)
    assert len(index) == len(keys) - len(removed)
    gone = set(removed.tolist())
    for q in data[::25]:
        got, _ = index.search(q, 20)
        assert not gone & set(got.tolist())
    # A removed vector's own query now finds other keys, never itself.
    got, _ = index.search(data[0], 1)
    assert got[0] != keys[0]


def test_add_replaces_existing_key(filled) -> None:
    index, keys, data = filled
    index.add(keys[:1], data[4000:4001])
    assert len(index) == 5000
    got, scores = index.search(data[4000], 2)
    assert set(got.tolist()) == {keys[0], keys[4000]}
    assert scores[0] == pytest.approx(1.0, abs=1e-3)


def test_save_load_round_trip(filled, tmp_path: Path) -> None:
    index, keys, data = filled
    index.remove(keys[:10])
    index.save()
    before = [index.search(q, 10) for q in data[::100]]
    for reopened in (VectorIndex(index.path, DIM), VectorIndex(index.path, DIM, view=True)):
        assert len(reopened) == 4990
        for (k0, s0), q in zip(before, data[::100], strict=True):
            k1, s1 = reopened.search(q, 10)
            np.testing.assert_array_equal(k0, k1)
            np.testing.assert_allclose(s0, s1)
    assert not (tmp_path / "idx.usearch.tmp").exists()


def test_view_is_read_only(filled) -> None:
    index, keys, data = filled
    index.save()
    view = VectorIndex(index.path, DIM, view=True)
    with pytest.raises(PermissionError, match="read-only"):
        view.add(np.array([1]), data[:1])
    with pytest.raises(PermissionError):
        view.remove(keys[:1])


def test_view_requires_saved_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        VectorIndex(tmp_path / "none.usearch", DIM, view=True)


def test_dimension_mismatch_on_open(filled) -> None:
    index, _, _ = filled
    index.save()
    with pytest.raises(ValueError, match="rebuild"):
        VectorIndex(index.path, DIM * 2)


def test_empty_index_returns_nothing(tmp_path: Path) -> None:
    index = VectorIndex(tmp_path / "empty.usearch", DIM)
    keys, scores = index.search(clustered(1)[0], 10)
    assert len(index) == 0 and keys.size == 0 and scores.size == 0
    index.save()
    assert len(VectorIndex(tmp_path / "empty.usearch", DIM)) == 0


def test_k_larger_than_index(tmp_path: Path) -> None:
    index = VectorIndex(tmp_path / "i.usearch", DIM)
    index.add(np.array([7, 8]), clustered(2))
    keys, _ = index.search(clustered(1, seed=3)[0], 10)
    assert sorted(keys.tolist()) == [7, 8] and keys.dtype == np.int64


@pytest.mark.parametrize(
    ("keys", "vectors"),
    [
        (np.array([-1]), np.ones((1, DIM))),
        (np.array([1, 2]), np.ones((1, DIM))),
        (np.array([1, 1]), np.ones((2, DIM))),
        (np.array([1]), np.ones((1, DIM + 1))),
        (np.array([1]), np.zeros((1, DIM))),
        (np.array([1.5]), np.ones((1, DIM))),
    ],
)
def test_bad_input_is_rejected(tmp_path: Path, keys: np.ndarray, vectors: np.ndarray) -> None:
    index = VectorIndex(tmp_path / "i.usearch", DIM)
    with pytest.raises(ValueError):
        index.add(keys, vectors)
    assert len(index) == 0


def test_expansion_search_is_adjustable_and_survives_reload(filled, tmp_path: Path) -> None:
    index, keys, data = filled
    index.expansion_search = 256
    assert index.expansion_search == 256
    index.save()
    viewed = VectorIndex(tmp_path / "idx.usearch", DIM, view=True, expansion_search=300)
    assert viewed.expansion_search == 300
    viewed.expansion_search = 64  # a read-only view can still change how hard it searches
    found, _ = viewed.search(data[7], 1)
    assert found[0] == keys[7]
    with pytest.raises(ValueError):
        viewed.expansion_search = 0
