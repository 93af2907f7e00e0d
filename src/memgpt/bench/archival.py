"""`memgpt bench archival`: archival storage at 10k to 1M passages. Prints one JSON object per size.

Vectors are real embeddings of real text: sentences from the documentation that
installed Python packages ship (READMEs in their metadata, .md/.rst/.txt files),
embedded with the local MiniLM model (the hash embedder if MiniLM is not
installed; the JSON says which). Embedding a million sentences would take about
an hour on 2 cores, so at most `--base` sentences are embedded and the rest of
the vectors are derived from them: each derived vector is a random base vector
plus Gaussian noise of total norm `NOISE` (cosine about 0.95 to its base),
renormalised. Queries are held-out sentences that are not in the store.

Each size runs in a fresh child process, so its peak RSS is its own. Reported:
- insert_per_s: passages stored per second (SQLite rows + full-text index),
  embedding excluded; index_build_per_s: vectors added to the HNSW graph per second
  (this runs after the inserts, when the tail is flushed into the graph);
- vector search (the ANN path) and hybrid search (BM25 + vector, fused) latency;
- recall@10 of vector search against exact search over every vector;
- peak RSS of the child, and bytes on disk (database, WAL, vector index files).
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from memgpt.schemas import AgentState, Block, Passage
from memgpt.store.sqlite import SQLiteStore

NOISE = 0.3
QUERIES = 200
INSERT_BATCH = 10_000
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_DOC_SUFFIXES = {".md", ".rst", ".txt"}


def corpus_sentences(limit: int) -> list[str]:
    """Distinct prose sentences from installed packages' documentation, in a fixed order."""
    root = Path(sysconfig.get_paths()["purelib"])
    paths = sorted(
        p
        for p in root.rglob("*")
        if (p.name == "METADATA" or p.suffix in _DOC_SUFFIXES) and p.is_file()
    )
    seen: dict[str, None] = {}
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for sentence in _SENTENCE.split(" ".join(text.split())):
            # Prose only: long enough to mean something, mostly letters (not tables or code).
            letters = sum(c.isalpha() or c == " " for c in sentence)
            if 40 <= len(sentence) <= 400 and letters > 0.85 * len(sentence):
                seen.setdefault(sentence, None)
                if len(seen) >= limit:
                    return list(seen)
    return list(seen)


def make_embedder() -> tuple[object, str]:
    try:
        from memgpt.embeddings.local import LocalMiniLM

        return LocalMiniLM(), "all-MiniLM-L6-v2 (onnxruntime)"
    except Exception:  # not installed or not built: the hash embedder still gives real-text vectors
        from memgpt.embeddings.hash import HashEmbedder

        return HashEmbedder(), "hash (MiniLM not available)"


def derived_vectors(base: np.ndarray, start: int, count: int) -> np.ndarray:
    """Vectors start..start+count: the base set itself first, then noisy copies (deterministic)."""
    out = np.empty((count, base.shape[1]), np.float32)
    real = max(0, min(count, len(base) - start))
    out[:real] = base[start : start + real]
    derived = np.arange(start, start + count) >= len(base)
    if derived.any():
        rng = np.random.default_rng(start)
        picks = rng.integers(0, len(base), derived.sum())
        noise = rng.standard_normal((derived.sum(), base.shape[1])).astype(np.float32)
        noise *= NOISE / np.linalg.norm(noise, axis=1, keepdims=True)
        v = base[picks] + noise
        out[derived] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def _batches(n: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, INSERT_BATCH):
        yield start, min(INSERT_BATCH, n - start)


def _disk_bytes(db: Path) -> int:
    files = [p for p in db.parent.rglob("*") if p.is_file() and p.name.startswith(db.name)]
    return sum(p.stat().st_size for p in files)


def _percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.asarray(samples) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
    }


def run_size(n: int, cache: Path, workdir: Path) -> dict:
    """Insert n passages, build the index, and measure searches; in the calling process."""
    data = np.load(cache / "base.npz", allow_pickle=False)
    base, queries = data["base"], data["queries"]
    texts = json.loads((cache / "texts.json").read_text())
    store = SQLiteStore(workdir / f"bench-{n}.db")
    agent = AgentState(name="bench", system="s", blocks=[Block(label="human", value="")])
    store.create_agent(agent)

    insert_s = 0.0
    for start, count in _batches(n):
        vectors = derived_vectors(base, start, count)
        passages = [
            Passage(
                id=f"passage-{start + i}",
                text=texts["base"][(start + i) % len(texts["base"])],
                embedding=vectors[i].tolist(),
            )
            for i in range(count)
        ]
        began = time.perf_counter()
        store.insert_passages(agent.id, passages)
        insert_s += time.perf_counter() - began

    began = time.perf_counter()
    store.flush_index()
    build_s = time.perf_counter() - began

    # Exact top 10 per query, streamed in batches so no full matrix is ever held.
    best_scores = np.full((len(queries), 10), -np.inf, np.float32)
    best_keys = np.zeros((len(queries), 10), np.int64)
    for start, count in _batches(n):
        sims = queries @ derived_vectors(base, start, count).T
        keys = np.broadcast_to(np.arange(start, start + count), sims.shape)
        all_scores = np.concatenate([best_scores, sims], axis=1)
        all_keys = np.concatenate([best_keys, keys], axis=1)
        top = np.argsort(-all_scores, axis=1, kind="stable")[:, :10]
        best_scores = np.take_along_axis(all_scores, top, axis=1)
        best_keys = np.take_along_axis(all_keys, top, axis=1)

    vector_times, hybrid_times, hits = [], [], 0
    for qi, (query, text) in enumerate(zip(queries, texts["queries"], strict=True)):
        began = time.perf_counter()
        found = store.search_passages(agent.id, query, 10)
        vector_times.append(time.perf_counter() - began)
        positions = {int(p.id.removeprefix("passage-")) for p, _ in found}
        hits += len(positions & set(best_keys[qi].tolist()))
        began = time.perf_counter()
        store.search_archival(agent.id, text, query, 10)
        hybrid_times.append(time.perf_counter() - began)
    store.close()
    return {
        "n": n,
        "insert_per_s": round(n / insert_s),
        "index_build_per_s": round(n / build_s) if build_s else None,
        "vector_search": _percentiles(vector_times),
        "hybrid_search": _percentiles(hybrid_times),
        "recall_at_10": round(hits / (10 * len(queries)), 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "disk_bytes": _disk_bytes(workdir / f"bench-{n}.db"),
    }


def prepare(cache: Path, base_size: int) -> dict:
    """Embed the base sentences and the queries once; later sizes reuse them from `cache`."""
    sentences = corpus_sentences(base_size + QUERIES)
    if len(sentences) < QUERIES * 2:
        raise SystemExit("Too little documentation text is installed to build a benchmark corpus.")
    query_texts, base_texts = sentences[:QUERIES], sentences[QUERIES:]
    embedder, name = make_embedder()
    embedder.embed(query_texts[:8])  # first use may build and load the model: not embedding time
    began = time.perf_counter()
    base = embedder.embed(base_texts)
    embed_s = time.perf_counter() - began
    queries = embedder.embed(query_texts)
    np.savez(cache / "base.npz", base=base, queries=queries)
    (cache / "texts.json").write_text(json.dumps({"base": base_texts, "queries": query_texts}))
    return {
        "embedder": name,
        "embed_per_s": round(len(base_texts) / embed_s, 1),
        "real_vectors": len(base_texts),
        "corpus": "sentences from installed Python packages' documentation",
        "derived_vectors": f"beyond {len(base_texts)}: a random real vector + Gaussian noise "
        f"of norm {NOISE}, renormalised",
    }


def run(sizes: list[int], base_size: int, workdir: Path) -> Iterator[dict]:
    cache = workdir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    common = prepare(cache, base_size)
    for n in sizes:
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "memgpt.bench.archival",
                "--child",
                str(n),
                "--workdir",
                str(workdir),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        yield {**json.loads(child.stdout.strip().splitlines()[-1]), **common}
        for path in workdir.glob(f"bench-{n}.db*"):
            if path.is_dir():
                for f in path.iterdir():
                    f.unlink()
                path.rmdir()
            else:
                path.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="memgpt bench archival", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--n", default="10000,100000,1000000", help="comma-separated sizes")
    parser.add_argument("--base", type=int, default=20_000, help="real sentences to embed")
    parser.add_argument(
        "--workdir", default=None, help="where the databases go (default: a temp dir)"
    )
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        workdir = Path(args.workdir)
        print(json.dumps(run_size(args.child, workdir / "cache", workdir)))
        return 0
    sizes = [int(s.replace("_", "")) for s in args.n.split(",") if s.strip()]
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for result in run(sizes, args.base, Path(tmp)):
            print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
