"""The retrieval bench's scoring: all evidence counts, dates as stored, cached embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from memgpt.bench import retrieval
from memgpt.store.fusion import FUSION


def test_a_question_with_two_evidence_turns_counts_only_when_both_are_found():
    ranked = [["a", "x", "b"], ["a", "x", "y"]]
    scores = retrieval.recall_at(ranked, [{"a", "b"}, {"a", "b"}])
    assert scores == {"recall@1": 0.0, "recall@5": 0.5, "recall@10": 0.5}


def test_when_questions_score_the_stored_date_of_the_first_result():
    dates = {"m1": "2023-03-01", "m2": "2023-03-03"}
    question = {
        "kind": "temporal",
        "text": ["m1", "m2"],  # the plan, then the day it happened
        "vector": ["m2", "m1"],
        "evidence": {"m2"},
        "answer": "2023-03-03",
        "dates": dates,
    }
    report = retrieval.report([question], FUSION)["temporal"]
    assert report["text"]["date@1"] == 0.0 and report["vector"]["date@1"] == 1.0
    assert report["text"]["recall@1"] == 0.0 and report["text"]["recall@5"] == 1.0


def test_the_margin_is_hybrids_worst_shortfall_against_its_better_input():
    reports = [
        {
            "lexical": {
                "text": {"recall@10": 0.9},
                "vector": {"recall@10": 1.0},
                "hybrid": {"recall@10": 1.0},
            },
            "paraphrase": {
                "text": {"recall@10": 0.0},
                "vector": {"recall@10": 1.0},
                "hybrid": {"recall@10": 0.98},
            },
        }
    ]
    assert retrieval.margin(reports) == pytest.approx(-0.02)


class CountingEmbedder:
    def __init__(self):
        self.calls = 0

    def embed(self, texts):
        self.calls += 1
        return np.ones((len(texts), 3), dtype=np.float32)


def test_embeddings_are_cached_per_embedder_and_texts(tmp_path):
    embedder = CountingEmbedder()
    first = retrieval.embed(embedder, "hash/a", ["one", "two"], tmp_path)
    again = retrieval.embed(embedder, "hash/a", ["one", "two"], tmp_path)
    assert embedder.calls == 1 and np.array_equal(first, again)
    retrieval.embed(embedder, "hash/b", ["one", "two"], tmp_path)  # another model
    retrieval.embed(embedder, "hash/a", ["one"], tmp_path)  # other texts
    assert embedder.calls == 3
    retrieval.embed(embedder, "hash/a", ["one", "two"], None)  # no cache: always embeds
    assert embedder.calls == 4
