"""Each `memgpt bench` command in a small configuration, checking its output's shape."""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys
import time

import numpy as np
import pytest

from memgpt.bench import common, multi_session, perf, retrieval
from memgpt.embeddings.hash import HashEmbedder
from memgpt.memory import recall, recall_embedding
from memgpt.store.fusion import FUSION


def bench(tmp_path, *args: str, timeout: float = 60) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "memgpt.cli", "bench", *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "MEMGPT_HOME": str(tmp_path)},
        timeout=timeout,
    )
    assert out.stderr.strip(), "a table on stderr"
    return json.loads(out.stdout)


def test_nested_kv_oracle_follows_every_chain(tmp_path):
    result = bench(tmp_path, "nested-kv", "--model", "oracle", "--samples", "2")
    assert set(result["levels"]) == {"0", "1", "2", "3", "4"}
    for level, r in result["levels"].items():
        assert r["n"] == 2
        assert r["memgpt"]["accuracy"] == 1.0
        assert r["fixed_context"]["accuracy"] == 1.0
        assert r["memgpt"]["mean_steps"] == int(level) + 3  # L+2 searches, then the answer


def test_dmr_oracle(tmp_path):
    result = bench(tmp_path, "dmr", "--model", "oracle", "--conversations", "2", "--questions", "3")
    assert result["questions"] == 6
    assert result["rouge_l_recall"] == 1.0 and result["contains"] == 1.0
    assert result["evidence_seen"] == 1.0
    assert 0.0 <= result["exact_match"] <= 1.0 and result["judge_accuracy"] is None


def test_dmr_reads_msc_self_instruct(tmp_path):
    line = {
        "previous_dialogs": [
            {"dialog": [{"text": "I keep bees on my roof."}, {"text": "How fun!"}]}
        ],
        "self_instruct": {"B": "What do I keep on my roof?", "A": "bees"},
    }
    data = tmp_path / "msc.jsonl"
    data.write_text(json.dumps(line) + "\n")
    result = bench(tmp_path, "dmr", "--model", "oracle", "--msc", str(data))
    assert result["questions"] == 1 and result["contains"] == 1.0


def test_docqa_oracle(tmp_path):
    result = bench(tmp_path, "docqa", "--model", "oracle", "--sizes", "10,50", "--questions", "9")
    assert [r["documents"] for r in result["sizes"]] == [10, 50]
    for r in result["sizes"]:
        assert r["questions"] == 9 and 0.0 <= r["accuracy"] <= 1.0
    assert result["sizes"][0]["accuracy"] == 1.0


def test_retrieval(tmp_path):
    result = bench(
        tmp_path,
        "retrieval",
        "--embedding",
        "hash",
        "--conversations",
        "2",
        "--sessions",
        "4",
        "--turns",
        "10",
        "--docs",
        "30",
        "--doc-questions",
        "15",
    )
    assert result["recall_questions"] == {
        "lexical": 10,
        "paraphrase": 10,
        "update": 6,
        "multi_hop": 6,
        "temporal": 6,
        "exact": 6,
    }
    assert result["recall_messages_per_conversation"] == 80
    assert result["archival_questions"] == {"lexical": 15, "paraphrase": 15}
    assert set(result["conversation_search"]) == set(multi_session.KINDS)
    assert set(result["archival_memory_search"]) == {"lexical", "paraphrase"}
    for search in ("conversation_search", "archival_memory_search"):
        for kind, rankings in result[search].items():
            # each ranker, and the vector side and hybrid without the relevance floor
            assert set(rankings) == {
                "text",
                "vector",
                "hybrid",
                "vector_no_floor",
                "hybrid_no_floor",
            }
            for scores in rankings.values():
                assert 0.0 <= scores["recall@1"] <= scores["recall@5"] <= scores["recall@10"] <= 1.0
                # Questions asking when also score the date of the first result.
                assert ("date@1" in scores) == (kind == "temporal")
    # Both turns of a two-hop question can never be the single first result.
    assert result["conversation_search"]["multi_hop"]["text"]["recall@1"] == 0.0
    # Lexical questions reuse their evidence's words, so text search finds them; fused
    # with meaning, every one is found.
    lexical = result["conversation_search"]["lexical"]
    assert lexical["text"]["recall@10"] >= 0.9
    assert lexical["hybrid"]["recall@10"] == 1.0
    assert result["fusion"] == vars(FUSION)


def test_retrieval_sweep_ranks_fusion_settings(tmp_path):
    result = bench(
        tmp_path,
        "retrieval",
        "--embedding",
        "hash",
        "--conversations",
        "1",
        "--sessions",
        "4",
        "--turns",
        "10",
        "--docs",
        "20",
        "--doc-questions",
        "6",
        "--sweep",
    )
    grid = result["grid"]
    assert len(grid) == len(list(itertools.product(*retrieval.SWEEP.values())))
    assert {"k", "text_weight", "depth", "floor", "margin@10", "hybrid@1"} <= set(grid[0])
    assert [r["margin@10"] for r in grid] == sorted((r["margin@10"] for r in grid), reverse=True)


def test_perf_small(tmp_path):
    kept = tmp_path / "histories"
    result = bench(
        tmp_path,
        *("perf", "--sizes", "300", "--steps", "5", "--searches", "5", "--runs", "1"),
        *("--keep-history", str(kept)),
        timeout=180,  # six cold starts: one untimed and one timed of each kind
    )
    (size,) = result["history"]
    assert size["messages"] >= 300
    for key in (
        "step_ms",
        "step_cpu_ms",
        "compile_ms",
        "recall_search_ms",
        "recall_search_p90_ms",
        "recall_hybrid_ms",
        "recall_hybrid_p90_ms",
        "recall_search_cpu_ms",
        "recall_hybrid_cpu_ms",
        "embed_message_ms",
        "peak_rss_mb",
    ):
        assert size[key] > 0
    assert size["recall_hybrid_p90_ms"] >= size["recall_hybrid_ms"]
    assert (kept / "perf-300-hash.db").exists()
    assert set(result["cold_start"]) == {"help_s", "run_to_prompt_s", "server_to_healthy_s"}
    assert all(v > 0 for v in result["cold_start"].values())


def test_perf_reuses_a_kept_history(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMGPT_HOME", str(tmp_path))
    database = str(tmp_path / "perf-300-hash.db")
    first = perf.run_size(300, 2, 3, database, False, "hash")
    again = perf.run_size(300, 2, 3, database, False, "hash")
    assert first["build_s"] > 0 and first["backfill_s"] > 0
    assert again["build_s"] is None and again["backfill_s"] is None  # built once
    assert again["messages"] > first["messages"]  # the first run's steps stay in it
    assert again["recall_hybrid_ms"] > 0


def test_perf_times_searches_once_every_message_is_embedded(tmp_path, monkeypatch):
    # Searches timed while the worker embedded the steps' messages counted its CPU too.
    monkeypatch.setenv("MEMGPT_HOME", str(tmp_path))
    catch_up, search = recall_embedding.catch_up, recall.search_text
    pending = []

    def slow_catch_up(*args, **kwargs):
        time.sleep(0.2)  # the worker is still busy when the steps return
        return catch_up(*args, **kwargs)

    def search_checked(store, agent_id, *args):
        pending.append(store.messages_to_embed(agent_id, 1))
        return search(store, agent_id, *args)

    monkeypatch.setattr(recall_embedding, "catch_up", slow_catch_up)
    monkeypatch.setattr(recall, "search_text", search_checked)
    perf.run_size(300, 2, 3, str(tmp_path / "perf-300-hash.db"), False, "hash")
    assert len(pending) == 6 and not any(pending)


def test_perf_history_has_no_two_messages_alike():
    """Repeated replies gave the recall index thousands of identical vectors."""
    texts = [turn.text for batch in perf.history(3000) for turn in batch]
    assert len(texts) == 2000  # a user turn and a reply per three messages
    assert len(set(texts)) == len(texts)
    assert len(np.unique(HashEmbedder().embed(texts), axis=0)) == len(texts)
    assert texts == [turn.text for batch in perf.history(3000) for turn in batch]  # seeded
    assert len(set(perf._words(random.Random(0)))) == perf.VOCABULARY


def test_perf_keeps_no_postgres_history():
    with pytest.raises(SystemExit):
        perf.main(["--keep-history", "x", "--postgres", "postgresql://nowhere/x"])


def test_tokens(tmp_path):
    result = bench(tmp_path, "tokens", "--model", "oracle", "--turns", "12")
    assert result["turns"] == len(result["per_turn"]) == 12
    assert result["system_instructions"] > 0 and result["function_schemas"] > 0
    assert all(t > result["function_schemas"] for t in result["per_turn"])


def test_prompt_cache_layout(tmp_path):
    result = bench(tmp_path, "prompt-cache", "--model", "oracle", "--no-local")
    layout = result["layout"]
    assert layout["evicted"] and layout["requests"] == len(layout["prefix_share"]) + 1
    # Only a memory edit or an eviction may break the prefix, and only once each.
    assert layout["prefix_share_median"] >= 0.9 and layout["prefix_share_min_otherwise"] >= 0.9
    assert layout["requests_below_90pct"] <= layout["after_edit_or_eviction"]
    assert len(layout["unread_tokens"]) == len(layout["prefix_share"])
    assert all(n > 0 for n in layout["unread_tokens"])  # each request adds messages
    assert "embedded" not in result


@pytest.mark.parametrize(
    ("prediction", "answer", "expected"),
    [
        ("the cat sat on the mat", "the cat on the mat", 1.0),
        ("a b", "a x b y", 0.5),
        ("", "x", 0.0),
    ],
)
def test_rouge_l_recall(prediction, answer, expected):
    assert common.rouge_l_recall(prediction, answer) == expected


def test_server_streaming_reports_time_to_first_token():
    from memgpt.bench.server import run_streaming

    result = run_streaming(3)
    assert result["streamed_messages"] == 3
    # The first piece comes while the model is still writing the rest.
    assert result["first_token_median_ms"] < result["whole_reply_median_ms"]


def test_percentile_is_a_measured_value_and_defined_for_one():
    assert common.percentile([0.3], 90) == 0.3
    assert common.percentile([5, 1, 4, 2, 3], 90) == 5
    assert common.percentile(list(range(1, 101)), 95) == 95


def test_timed_starts_read_bytecode_even_where_writing_it_is_turned_off(tmp_path):
    """Cold starts are timed as an installed memgpt starts: with PYTHONDONTWRITEBYTECODE
    set (as on the machine these benches run on), every start compiled memgpt again."""
    env = common.bytecode_cache({**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, tmp_path)
    assert "PYTHONDONTWRITEBYTECODE" not in env
    subprocess.run([sys.executable, "-c", "import memgpt.errors"], env=env, check=True)
    assert list(tmp_path.rglob("memgpt/errors.*.pyc"))


def test_server_bench_with_a_single_message():
    """statistics.quantiles needs two values: `memgpt bench server --messages 1` crashed."""
    from memgpt.bench.server import run

    result = run(1)
    assert result["messages"] == 1
    assert result["round_trip_p90_ms"] == result["round_trip_median_ms"]


@pytest.mark.postgres
def test_perf_on_postgres_leaves_no_schema(tmp_path):
    from tests.store.backends import server_uri

    uri = server_uri()
    before = _schemas(uri)  # other tests' stores have schemas on this server too
    perf = bench(
        tmp_path,
        "perf",
        "--sizes",
        "300",
        "--steps",
        "3",
        "--searches",
        "3",
        "--runs",
        "1",
        "--postgres",
        uri,
        timeout=240,  # cold starts included; PostgreSQL builds the history slower
    )
    assert perf["backend"] == "postgres" and perf["history"][0]["messages"] >= 300
    assert _schemas(uri) == before, "each size's schema is dropped after its run"


@pytest.mark.postgres
def test_archival_size_on_postgres(tmp_path):
    """One size of `bench archival --postgres`, from a small cache of vectors (building the
    real corpus and embedding it takes minutes)."""
    from memgpt.bench import archival
    from tests.store.backends import server_uri

    rng = np.random.default_rng(0)
    base = rng.standard_normal((100, 16)).astype(np.float32)
    queries = base[:20] + 0.05 * rng.standard_normal((20, 16)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)  # embeddings are unit vectors
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    np.savez(tmp_path / "base.npz", base=base, queries=queries)
    texts = {
        "base": [f"passage {i} about topic {i % 7}" for i in range(100)],
        "queries": [f"topic {i % 7}" for i in range(20)],
    }
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    uri = server_uri()
    database = common.fresh_schema(uri)
    result = archival.run_size(300, tmp_path, database, postgres=True)
    common.drop_schema(database)
    assert result["recall_at_10"] >= 0.9 and result["disk_bytes"] > 0
    assert result["index_build_per_s"] is None and result["expansion_search_sweep"] is None


def _schemas(uri: str) -> set[str]:
    import psycopg

    with psycopg.connect(uri) as conn:
        return {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace").fetchall()}
