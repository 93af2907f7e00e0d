"""BM25 over an agent's archival scope, merged from its owners' own indexes.

Each owner of passages (an agent's inserts, a document source) has its own tantivy
index (`text.py`), whose BM25 uses that owner's statistics alone. An agent's scope is
its own passages plus those of its attached sources, and BM25 over that scope needs
the scope's statistics: its documents, their average length, and each word's
document frequency, all sums of the owners' (tantivy reads a word's frequency from
its term dictionary: microseconds). With one owner holding passages the owner's own
ranking is the scope's, and its index answers alone (block-max WAND). With several,
each index is asked with every word's weight boosted to the scope's idf, which leaves
one difference: the index normalises lengths by its own average, not the scope's.
That moves a score by at most the ratio of the two averages (`slack`), so each index
is read until `slack` times its last score falls below the k-th best exact score,
and every passage read is scored exactly from its analysed text (threshold
algorithm, Fagin et al., 2001). Exact lengths, where tantivy rounds long passages'
lengths down to one byte: rounding down only raises a score, so the bound holds.

Cost (2 cores at load ~10, Zipf-distributed words, 3-word queries, k 100): one owner
of 100,000 passages, tantivy's own search, 0.3 ms p50 (8.6 ms p95); an agent's 2,000
short passages (5-15 words) plus a source of 100,000 (20-60 words), 93 ms p50 (31 ms
with a source of 20,000). The short owner's average is a quarter of the scope's, so
its bound is loose and most of its matches are read and rescored, and rescoring is
tantivy's analyzer run again on each passage's text (about 90 us each at that load,
most of the time in a profile). Deriving each match's term frequency from tantivy's
per-word scores and the stored length, instead of analysing its text, would remove
most of it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# tantivy's BM25 constants, so one owner alone ranks as its own index does.
K1 = 1.2
B = 0.75
# float32 scores in tantivy: keep the bound safely above the rounding.
_ROUNDING = 1 + 1e-4


@dataclass(frozen=True)
class Statistics:
    documents: int
    tokens: int
    frequencies: dict[str, int]  # query word -> documents holding it

    @property
    def average(self) -> float:
        return self.tokens / self.documents if self.documents else 1.0


def merged(parts: Iterable[Statistics]) -> Statistics:
    parts = list(parts)
    words = {w for p in parts for w in p.frequencies}
    return Statistics(
        sum(p.documents for p in parts),
        sum(p.tokens for p in parts),
        {w: sum(p.frequencies.get(w, 0) for p in parts) for w in words},
    )


def idf(documents: int, frequency: int) -> float:
    """tantivy's (Lucene's) BM25 idf, never negative."""
    return math.log(1 + (documents - frequency + 0.5) / (frequency + 0.5))


def weights(stats: Statistics) -> dict[str, float]:
    return {w: idf(stats.documents, n) for w, n in stats.frequencies.items() if n}


def score(tokens: list[str], weight: dict[str, float], average: float) -> float:
    """BM25 of a passage, given as its analysed tokens, for words of these weights."""
    counts = Counter(t for t in tokens if t in weight)
    norm = K1 * (1 - B + B * len(tokens) / average)
    return sum(weight[w] * (K1 + 1) * tf / (tf + norm) for w, tf in counts.items())


Search = Callable[[dict[str, float], int], list[tuple[int, float]]]


def scope_top(
    owners: list[tuple[Search, Statistics]],
    k: int,
    tokens_of: Callable[[list[int]], dict[int, list[str]]],
) -> list[tuple[int, float]]:
    """The k best (pk, BM25 over the union of the owners), best first, ties oldest first.

    `owners`: each index's search (word boosts, depth -> its best (pk, score)) and its
    statistics; `tokens_of`: the analysed tokens of passages by pk (a pk missing there
    was deleted meanwhile).
    """
    scope = merged(stats for _, stats in owners)
    weight = weights(scope)
    exact: dict[int, float] = {}
    pending = []  # (search, boosts, slack, depth) of indexes that may hold more
    for search, stats in owners:
        own = weights(stats)
        boosts = {w: weight[w] / own[w] for w in own}
        if boosts:
            slack = max(1.0, scope.average / stats.average) * _ROUNDING
            pending.append((search, boosts, slack, k))
    while pending:
        still = []
        for search, boosts, slack, depth in pending:
            hits = search(boosts, depth)
            new = [pk for pk, _ in hits if pk not in exact]
            for pk, passage in tokens_of(new).items():
                exact[pk] = score(passage, weight, scope.average)
            best = sorted(exact.values(), reverse=True)
            kth = best[k - 1] if len(best) >= k else 0.0
            if len(hits) == depth and hits[-1][1] * slack > kth:
                still.append((search, boosts, slack, depth * 4))
        pending = still
    return sorted(exact.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
