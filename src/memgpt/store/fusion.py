"""Reciprocal rank fusion (Cormack et al., 2009): merge rankings without comparing their scores.

BM25 and cosine similarity live on unrelated scales, so instead of mixing the
scores each list contributes 1 / (k + rank) per item. An item ranked well by
both lists beats one ranked first by only one of them; k = 60 is the constant
from the paper, which damps the gap between the very top ranks.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

RRF_K = 60


def reciprocal_rank_fusion(
    *rankings: Sequence[Hashable], k: int = RRF_K
) -> list[tuple[Hashable, float]]:
    """Items of all rankings (best first each), fused best first; ties keep first-seen order."""
    scores: dict[Hashable, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])
