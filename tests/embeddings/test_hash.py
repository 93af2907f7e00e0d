import os
import subprocess
import sys

import numpy as np

from memgpt.embeddings import create_embedder
from memgpt.embeddings.base import Embedder
from memgpt.embeddings.hash import HashEmbedder
from memgpt.schemas import EmbeddingConfig


def test_shape_dtype_and_unit_norm() -> None:
    vectors = HashEmbedder().embed(["hello world", "the quick brown fox", ""])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)


def test_empty_and_punctuation_only_texts_are_valid_vectors() -> None:
    vectors = HashEmbedder(dim=16).embed(["", "  ", "?!"])
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)


def test_empty_batch() -> None:
    assert HashEmbedder().embed([]).shape == (0, 384)


def test_shared_words_score_higher_than_unrelated_text() -> None:
    query, related, unrelated = HashEmbedder().embed(
        [
            "my sister's birthday is in March",
            "remember the birthday party for my sister",
            "the database migration failed overnight",
        ]
    )
    assert query @ related > query @ unrelated + 0.2


def test_case_insensitive_and_word_order_matters_a_little() -> None:
    a, b, c = HashEmbedder().embed(["Dog bites man", "dog BITES man", "man bites dog"])
    assert a @ b > 0.9999
    assert 0.5 < a @ c < 0.9999


def test_stable_across_processes() -> None:
    # Python's hash() is salted per process; the embedder must not depend on it.
    code = "from memgpt.embeddings.hash import HashEmbedder; print(HashEmbedder().embed(['stable text here'])[0].tolist())"
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(runs) == 1
    assert runs.pop().strip() == str(HashEmbedder().embed(["stable text here"])[0].tolist())


def test_create_embedder_dispatches_hash_with_dim() -> None:
    embedder = create_embedder(EmbeddingConfig(provider="hash", dim=64))
    assert isinstance(embedder, HashEmbedder)
    assert isinstance(embedder, Embedder)
    assert embedder.embed(["x"]).shape == (1, 64)
