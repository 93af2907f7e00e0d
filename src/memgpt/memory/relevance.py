"""A relevance floor for the vector side of recall and archival search.

Nearest neighbours always exist: without a floor a query about nothing the agent
holds ("xyzzy qwerty") still gets its hundred nearest messages, and the agent reads
"100 results". A fixed cosine threshold means something else for every embedding
model (MiniLM puts unrelated sentences near 0.1, some OpenAI-compatible models near
0.7, the hash test embedder anywhere its collisions fall), so the floor is measured
with the agent's own embedder on its own items, by what meaningless queries find:
`PROBES` strings of random letters (the same for every embedder) are embedded once
per embedder, each finds its `RANK`-th nearest item in the agent's scope, and the
floor is the `QUANTILE` of those similarities. A vector hit no nearer than what
gibberish finds is no match by meaning; it still ranks when its words match. The
floor is measured again when the agent's items double or halve (16 vector searches).

`memgpt bench retrieval --embedding local` (20 conversations of 400 messages, 1,000
documents), store hybrid recall@10 per kind without the floor -> with it, and how
many results the bench's five nonsense queries get on average:

    quantile of the probes' best   1.0     0.5     0.25    0.0     no floor
    recall paraphrase              0.87    0.98    1.00    1.00    1.00
    recall update                  0.933   1.00    1.00    1.00    1.00
    recall multi_hop               0.80    0.817   0.85    0.833   0.833
    (lexical, temporal, exact, archival lexical/paraphrase: unchanged at every setting)
    nonsense results, recall       0.2     1.1     2.0     6.1     100
    nonsense results, archival     0       0       0.8     32      100

0.25 is the strictest setting that loses no kind's recall@10 (hybrid margin@10 0.0
over the better of text and vector; -0.017 at 1.0).
"""

from __future__ import annotations

import random
import string
from threading import Lock
from typing import TYPE_CHECKING, Literal
from weakref import WeakKeyDictionary

from memgpt.embeddings.base import Embedder
from memgpt.store import Store

if TYPE_CHECKING:
    import numpy as np

PROBES = 16
QUANTILE = 0.25
RANK = 1

Kind = Literal["recall", "archival"]

_probe_vectors: WeakKeyDictionary[Embedder, np.ndarray] = WeakKeyDictionary()
# Per store, weakly held: (agent, kind) -> (size's bit length when measured, floor)
_floors: WeakKeyDictionary[Store, dict[tuple[str, Kind], tuple[int, float]]] = WeakKeyDictionary()
_lock = Lock()


def probes(seed: int = 0) -> list[str]:
    """Strings of two to four random lowercase "words" of three to eight letters."""
    rng = random.Random(seed)
    return [
        " ".join(
            "".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 8)))
            for _ in range(rng.randint(2, 4))
        )
        for _ in range(PROBES)
    ]


def _probe_vectors_of(embedder: Embedder) -> np.ndarray:
    with _lock:
        vectors = _probe_vectors.get(embedder)
    if vectors is None:
        import numpy as np  # on first use: the server and `memgpt run` start without it

        vectors = np.asarray(embedder.embed(probes()), np.float32)
        with _lock:
            _probe_vectors[embedder] = vectors
    return vectors


def _reached(store: Store, agent_id: str, kind: Kind, vector: np.ndarray) -> float | None:
    """The similarity of the vector's `RANK`-th nearest item (or its last, when fewer)."""
    if kind == "recall":
        found = [s for _, s in store.recall_vector_ranking(agent_id, vector, RANK)]
    else:
        found = [s for _, s in store.search_passages(agent_id, vector, RANK)]
    return found[-1] if found else None


def floor(store: Store, embedder: Embedder, agent_id: str, kind: Kind) -> float | None:
    """The least similarity a vector hit of the agent's `kind` search needs; None when
    the agent has nothing embedded to measure it on."""
    size = store.count_messages(agent_id) if kind == "recall" else store.count_passages(agent_id)
    with _lock:
        cached = _floors.get(store, {}).get((agent_id, kind))
    if cached is not None and cached[0] == size.bit_length():
        return cached[1]
    best = [
        s
        for s in (_reached(store, agent_id, kind, v) for v in _probe_vectors_of(embedder))
        if s is not None
    ]
    import numpy as np

    value = float(np.quantile(best, QUANTILE)) if best else None
    if value is not None:
        with _lock:
            _floors.setdefault(store, {})[(agent_id, kind)] = (size.bit_length(), value)
    return value
