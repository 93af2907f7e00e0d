"""`memgpt bench archival`: archival storage at 10k to 1M passages. Prints one JSON object per size.

Corpus: passages of real text from what this machine has offline: the docs that
installed Python packages ship (METADATA READMEs, .md/.rst/.txt files), module,
class and function docstrings of those packages and of Python's standard
library, /usr/share/doc (plain and gzipped) and man pages (troff markup
stripped). Text is split into paragraphs, then packed from whole sentences into
passages of `PASSAGE_WORDS` words; only prose-like passages are kept (mostly
letters: no tables, code or licence boilerplate repeated across packages), and
exact duplicates are dropped. The passages are shuffled with a fixed seed.

Vectors are real embeddings (the local MiniLM model; the hash embedder if it is
not installed, and the JSON says which) of `--base` of those passages. Embedding a
million passages would take hours on 2 cores, so beyond the real ones the vectors
(and texts) are derived, and the JSON says how many: each derived passage splices
the first part of one real passage with the last part of another, and its vector
is the normalised `a + w * b + noise` of their vectors (w uniform in [0, MIX]),
so derived vectors spread between topics rather than piling into tight clusters
of near-copies, and a word's posting list grows with n without exact duplicates.

Queries are real text that is not in the store: the first sentence (up to 30
words) of `QUERIES` held-out passages. Recall@10 is against exact (brute-force)
cosine search over exactly the vectors stored. Embeddings are cached in
`--cache` (keyed by the corpus and embedder), so later runs skip embedding.

Each size runs in a fresh child process, so its peak RSS is its own. Reported:
- insert_per_s: passages stored per second (SQLite rows + full-text index),
  embedding excluded; index_build_per_s: vectors added to the HNSW graph per second
  (this runs after the inserts, when the tail is flushed into the graph; none with
  `--postgres`, where pgvector grows its graph with each insert);
- vector search (the ANN path) and hybrid search (BM25 + vector, fused) latency,
  the vector path per HNSW `expansion_search` setting with its recall@10;
- recall@10 of vector search (at the store's default settings) against exact search;
- peak RSS of the child, and bytes on disk (database, WAL, vector index files).
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from memgpt.bench.common import drop_schema, fresh_schema, open_bench_store, postgres_target
from memgpt.schemas import AgentState, Block, Passage
from memgpt.store import Store
from memgpt.store.indexes.hnsw import DEFAULT_EXPANSION_SEARCH

NOISE = 0.25
MIX = 0.6
QUERIES = 200
QUERY_WORDS = 30
PASSAGE_WORDS = (25, 70)  # a passage packs whole sentences until it has at least 25 words
INSERT_BATCH = 10_000
EXPANSION_SWEEP = (32, 64, 128, 256)
MAX_DOC_BYTES = 2_000_000
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_PARAGRAPH = re.compile(r"\n\s*\n")
_DOC_SUFFIXES = {".md", ".rst", ".txt"}
# troff: requests/macros on their own line, font and size escapes, named characters.
_TROFF_LINE = re.compile(r"^[.'].*$", re.MULTILINE)
_TROFF_ESCAPE = re.compile(r"\\(?:f(?:\[[^]]*\]|\(..|.)|s[-+]?\d+|\(..|\[[^]]*\]|[&-e|^])")


def _read(path: Path) -> str | None:
    try:
        if path.stat().st_size > MAX_DOC_BYTES:
            return None
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError):
        return None


def _docstrings(path: Path) -> Iterator[str]:
    source = _read(path)
    if source is None:
        return
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node)
            if doc:
                yield doc


def _files(root: Path, keep) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if keep(p) and p.is_file())


def documents() -> Iterator[str]:
    """Raw documents from every offline source, in a fixed order."""
    purelib = Path(sysconfig.get_paths()["purelib"])
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in _files(purelib, lambda p: p.name == "METADATA" or p.suffix in _DOC_SUFFIXES):
        if text := _read(path):
            yield text
    for path in _files(purelib, lambda p: p.suffix == ".py"):
        yield from _docstrings(path)
    for path in _files(stdlib, lambda p: p.suffix == ".py" and "site-packages" not in p.parts):
        yield from _docstrings(path)
    for path in _files(Path("/usr/share/doc"), lambda p: "copyright" not in p.name):
        if text := _read(path):
            yield text
    for path in _files(Path("/usr/share/man"), lambda p: p.suffix == ".gz"):
        if text := _read(path):
            yield _TROFF_ESCAPE.sub("", _TROFF_LINE.sub("", text))


def _prose(text: str) -> bool:
    letters = sum(c.isalpha() or c == " " for c in text)
    return letters > 0.88 * len(text)


def passages_of(docs: Iterable[str]) -> Iterator[str]:
    """Passage-sized prose: whole sentences of one paragraph, packed to PASSAGE_WORDS words."""
    low, high = PASSAGE_WORDS
    for doc in docs:
        for paragraph in _PARAGRAPH.split(doc):
            words: list[str] = []
            for sentence in _SENTENCE.split(" ".join(paragraph.split())):
                words += sentence.split()
                if len(words) >= low:
                    chunk = " ".join(words[:high])
                    if _prose(chunk):
                        yield chunk
                    words = []


def corpus(limit: int) -> list[str]:
    """Up to `limit` distinct passages, shuffled with a fixed seed."""
    seen: dict[str, None] = {}
    keys: set[str] = set()
    for passage in passages_of(documents()):
        key = " ".join(passage.lower().split())
        if key not in keys:
            keys.add(key)
            seen[passage] = None
    texts = list(seen)
    order = np.random.default_rng(0).permutation(len(texts))
    return [texts[i] for i in order[:limit]]


def query_text(passage: str) -> str:
    return " ".join(_SENTENCE.split(passage)[0].split()[:QUERY_WORDS])


def make_embedder() -> tuple[object, str]:
    try:
        from memgpt.embeddings.local import LocalMiniLM

        return LocalMiniLM(), "all-MiniLM-L6-v2 (onnxruntime)"
    except Exception:  # not installed or not built: the hash embedder still gives real-text vectors
        from memgpt.embeddings.hash import HashEmbedder

        return HashEmbedder(), "hash (MiniLM not available)"


def derived(
    base: np.ndarray, texts: list[str], start: int, count: int
) -> tuple[np.ndarray, list[str]]:
    """Passages start..start+count: the real ones first, then derived ones (deterministic)."""
    out = np.empty((count, base.shape[1]), np.float32)
    real = max(0, min(count, len(base) - start))
    out[:real] = base[start : start + real]
    out_texts = texts[start : start + real]
    fake = count - real
    if fake:
        rng = np.random.default_rng(start)
        a = rng.integers(0, len(base), fake)
        b = rng.integers(0, len(base), fake)
        w = rng.uniform(0, MIX, (fake, 1)).astype(np.float32)
        noise = rng.standard_normal((fake, base.shape[1])).astype(np.float32)
        noise *= NOISE / np.linalg.norm(noise, axis=1, keepdims=True)
        v = base[a] + w * base[b] + noise
        out[real:] = v / np.linalg.norm(v, axis=1, keepdims=True)
        for i, j in zip(a, b, strict=True):
            head, tail = texts[i].split(), texts[j].split()
            out_texts.append(" ".join(head[: len(head) * 2 // 3] + tail[len(tail) * 2 // 3 :]))
    return out, out_texts


def _batches(n: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, INSERT_BATCH):
        yield start, min(INSERT_BATCH, n - start)


def _disk_bytes(db: Path) -> int:
    """The database with its journal files and index folders (`<db>.vectors/`, `<db>.text/`)."""
    ours = [p for p in db.parent.iterdir() if p.name.startswith(db.name)]
    files = [f for p in ours for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()]
    return sum(f.stat().st_size for f in files)


def _percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.asarray(samples) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
    }


def _exact_top10(queries: np.ndarray, base: np.ndarray, texts: list[str], n: int) -> np.ndarray:
    """Exact top 10 positions per query, streamed in batches so no full matrix is ever held."""
    best_scores = np.full((len(queries), 10), -np.inf, np.float32)
    best_keys = np.zeros((len(queries), 10), np.int64)
    for start, count in _batches(n):
        sims = queries @ derived(base, texts, start, count)[0].T
        keys = np.broadcast_to(np.arange(start, start + count), sims.shape)
        all_scores = np.concatenate([best_scores, sims], axis=1)
        all_keys = np.concatenate([best_keys, keys], axis=1)
        top = np.argsort(-all_scores, axis=1, kind="stable")[:, :10]
        best_scores = np.take_along_axis(all_scores, top, axis=1)
        best_keys = np.take_along_axis(all_keys, top, axis=1)
    return best_keys


def _vector_pass(store: Store, agent_id: str, queries: np.ndarray, exact: np.ndarray) -> dict:
    times, hits = [], 0
    for qi, query in enumerate(queries):
        began = time.perf_counter()
        found = store.search_passages(agent_id, query, 10)
        times.append(time.perf_counter() - began)
        positions = {int(p.id.removeprefix("passage-")) for p, _ in found}
        hits += len(positions & set(exact[qi].tolist()))
    return {**_percentiles(times), "recall_at_10": round(hits / (10 * len(queries)), 4)}


def _expansion_sweep(store, agent_id: str, queries: np.ndarray, exact: np.ndarray) -> dict:
    """The vector path at each HNSW `expansion_search` of the agent's usearch index."""
    index = store.indexes.owner_index(("agent_id", agent_id)).index
    sweep = {}
    for ef in EXPANSION_SWEEP:
        index.expansion_search = ef
        sweep[str(ef)] = _vector_pass(store, agent_id, queries, exact)
    index.expansion_search = DEFAULT_EXPANSION_SEARCH
    return sweep


def _postgres_bytes(store) -> int:
    """Tables and their indexes (pgvector's HNSW graphs included) in the run's schema."""
    row = store._one(
        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) AS size FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
    )
    return int(row["size"])


def run_size(n: int, cache: Path, database: str, postgres: bool) -> dict:
    """Insert n passages, build the index, and measure searches; in the calling process."""
    data = np.load(cache / "base.npz", allow_pickle=False)
    base, queries = data["base"], data["queries"]
    texts = json.loads((cache / "texts.json").read_text())
    store = open_bench_store(database, postgres)
    agent = AgentState(name="bench", system="s", blocks=[Block(label="human", value="")])
    store.create_agent(agent)

    insert_s = 0.0
    for start, count in _batches(n):
        vectors, batch_texts = derived(base, texts["base"], start, count)
        passages = [
            Passage(id=f"passage-{start + i}", text=text, embedding=vectors[i].tolist())
            for i, text in enumerate(batch_texts)
        ]
        began = time.perf_counter()
        store.insert_passages(agent.id, passages)
        insert_s += time.perf_counter() - began

    began = time.perf_counter()
    store.flush_index()
    build_s = time.perf_counter() - began
    exact = _exact_top10(queries, base, texts["base"], n)

    # Warm the page cache and the memory-mapped graph once, as a running agent would be.
    for query, text in zip(queries[:20], texts["queries"][:20], strict=True):
        store.search_archival(agent.id, text, query, 10)
    sweep = None if postgres else _expansion_sweep(store, agent.id, queries, exact)
    vector = _vector_pass(store, agent.id, queries, exact)

    hybrid_times = []
    for query, text in zip(queries, texts["queries"], strict=True):
        began = time.perf_counter()
        store.search_archival(agent.id, text, query, 10)
        hybrid_times.append(time.perf_counter() - began)
    disk = _postgres_bytes(store) if postgres else _disk_bytes(Path(database))
    store.close()
    return {
        "n": n,
        "insert_per_s": round(n / insert_s),
        # pgvector adds each vector to its graph as the row is inserted
        "index_build_per_s": round(n / build_s) if build_s and not postgres else None,
        "vector_search": {k: vector[k] for k in ("p50_ms", "p95_ms")},
        "recall_at_10": vector["recall_at_10"],
        "hybrid_search": _percentiles(hybrid_times),
        "expansion_search_sweep": sweep,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "disk_bytes": disk,
    }


def prepare(cache: Path, base_size: int) -> dict:
    """Embed the real passages and the queries, unless `cache` holds them for this size.

    A cache is reused as it is (building the corpus takes minutes); delete it after
    installing or removing packages to benchmark the new corpus.
    """
    embedder, name = make_embedder()
    meta_path = cache / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta["key"] == [name, base_size]:
            return meta["common"]
    passages = corpus(base_size + QUERIES)
    if len(passages) < QUERIES * 2:
        raise SystemExit("Too little documentation text is installed to build a benchmark corpus.")
    query_texts = [query_text(p) for p in passages[:QUERIES]]
    base_texts = passages[QUERIES:]
    embedder.embed(query_texts[:8])  # first use may build and load the model: not embedding time
    began = time.perf_counter()
    base = embedder.embed(base_texts)
    embed_s = time.perf_counter() - began
    queries = embedder.embed(query_texts)
    np.savez(cache / "base.npz", base=base, queries=queries)
    (cache / "texts.json").write_text(json.dumps({"base": base_texts, "queries": query_texts}))
    words = [len(t.split()) for t in base_texts]
    common = {
        "embedder": name,
        "embed_per_s": round(len(base_texts) / embed_s, 1),
        "embed_load_avg": round(os.getloadavg()[0], 2),
        "real_vectors": len(base_texts),
        "passage_words_mean": round(float(np.mean(words)), 1),
        "corpus": "passages from installed packages' docs and docstrings, Python stdlib "
        "docstrings, /usr/share/doc and man pages; deduplicated, shuffled",
        "queries": f"{QUERIES} held-out passages' first sentences (not in the store)",
        "derived_vectors": f"beyond {len(base_texts)}: normalised a + U(0,{MIX})*b + noise of "
        f"norm {NOISE} for random real a, b; text splices a's head with b's tail",
    }
    meta_path.write_text(json.dumps({"key": [name, base_size], "common": common}))
    return common


def run(
    sizes: list[int], base_size: int, workdir: Path, cache: Path, server: str | None = None
) -> Iterator[dict]:
    """Each size in a child process: in SQLite under `workdir`, or in a new schema of the
    PostgreSQL `server` (dropped after)."""
    cache.mkdir(parents=True, exist_ok=True)
    common = prepare(cache, base_size)
    for n in sizes:
        database = fresh_schema(server) if server else str(workdir / f"bench-{n}.db")
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "memgpt.bench.archival",
                "--child",
                str(n),
                "--database",
                database,
                "--cache",
                str(cache),
                *(["--postgres"] if server else []),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
        backend = "postgres" if server else "sqlite"
        yield {**result, "backend": backend, "load_avg_1m": round(os.getloadavg()[0], 2), **common}
        if server:
            drop_schema(database)
        for path in workdir.glob(f"bench-{n}.db*"):
            if path.is_dir():
                shutil.rmtree(path)  # the index folders: <db>.text/ holds one folder per owner
            else:
                path.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="memgpt bench archival", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--n", default="10000,100000,1000000", help="comma-separated sizes")
    parser.add_argument("--base", type=int, default=30_000, help="real passages to embed")
    parser.add_argument(
        "--workdir", default=None, help="where the databases go (default: a temp dir)"
    )
    parser.add_argument(
        "--cache", default=None, help="where embeddings are kept between runs (default: workdir)"
    )
    parser.add_argument(
        "--postgres",
        nargs="?",
        const="",
        metavar="URI",
        help="store the passages in PostgreSQL (a new schema per size, dropped after) at "
        "URI, or in a throwaway server when no URI is given",
    )
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    postgres = args.postgres is not None
    if args.child is not None:
        print(json.dumps(run_size(args.child, Path(args.cache), args.database, postgres)))
        return 0
    sizes = [int(s.replace("_", "")) for s in args.n.split(",") if s.strip()]
    server = postgres_target(args.postgres) if postgres else None
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        cache = Path(args.cache) if args.cache else Path(tmp) / "cache"
        for result in run(sizes, args.base, Path(tmp), cache, server):
            print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
