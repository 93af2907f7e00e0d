"""Weighted reciprocal rank fusion of a vector and a text ranking, with the text side
trusted as far as the vector side agrees with it.

Reciprocal rank fusion (Cormack et al., 2009) merges rankings whose scores live on
unrelated scales (cosine similarity, BM25, ts_rank): each list gives an item
weight / (k + rank). Plain RRF (k = 60, equal weights) lost to its own vector input
on `memgpt bench retrieval`: a question worded unlike its answer still shares a
stray word with some messages, and those text matches pushed the vector side's finds
out of the first ten. Such a text ranking has nothing in common with what the
meaning found, so the text side's weight is scaled by agreement: the share of its
first `depth` items that are also among the vector side's first `depth`, lifted to
at least `floor` (an exact term the meaning misses, a name or a code, must still
surface). Ranks only: recall's text search gives no scores, and BM25 and ts_rank
are not comparable across queries anyway.

The constants are the best setting of `memgpt bench retrieval --sweep` (local
MiniLM embeddings, seed 0, 20 conversations of 400 messages, 1,000 documents):
best worst-case margin of hybrid over the better of its inputs at recall@10 across
every kind of question of both searches, then best mean hybrid recall@1, @5, @10.

    setting                         margin@10  margin@5  hybrid @1 / @5 / @10
    plain RRF (k 60, w 1, floor 1)      -0.020    -0.330  0.560 / 0.854 / 0.971
    this one                            +0.000    -0.117  see retrieval.py's table

On a held-out seed (1000), the same setting scores margin@10 -0.010 (plain RRF
-0.040). See `memgpt.bench.retrieval` for the benchmark.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Fusion:
    k: float  # damps the gap between the top ranks, as RRF's k
    text_weight: float  # the text list's weight at full agreement, the vector list's being 1
    depth: int  # how many of each list's first items agreement compares
    floor: float  # the least share of its weight the text side keeps (1: no agreement gate)


FUSION = Fusion(k=1, text_weight=0.6, depth=5, floor=0.25)


def agreement(vector: Sequence[Hashable], text: Sequence[Hashable], depth: int) -> float:
    """The share of the text list's first `depth` items among the vector list's first."""
    top = text[:depth]
    if not top:
        return 1.0
    found = set(vector[:depth])
    return sum(item in found for item in top) / len(top)


def fuse(
    vector: Sequence[Hashable], text: Sequence[Hashable], fusion: Fusion = FUSION
) -> list[tuple[Hashable, float]]:
    """Items of both rankings (best first each), fused best first; ties keep first-seen
    order, the vector list's items first."""
    trust = fusion.floor + (1 - fusion.floor) * agreement(vector, text, fusion.depth)
    fused: dict[Hashable, float] = {}
    for ranking, weight in ((vector, 1.0), (text, fusion.text_weight * trust)):
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (fusion.k + rank)
    return sorted(fused.items(), key=lambda kv: -kv[1])
