"""Embedding throughput: sentences per second on varied, typical-length sentences.

`measure` is a pure function of an embedder and a workload; `main` prints JSON
(this becomes `memgpt bench embed`).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

from memgpt.embeddings import create_embedder
from memgpt.embeddings.base import Embedder
from memgpt.schemas import EmbeddingConfig

_SUBJECTS = [
    "my sister",
    "the new manager",
    "our team",
    "a user named Priya",
    "the assistant",
    "everyone at the meetup",
    "the landlord",
    "my doctor",
    "the quarterly report",
    "this recipe",
]
_VERBS = [
    "mentioned",
    "forgot about",
    "is planning",
    "asked me about",
    "really enjoyed",
    "wants to reschedule",
    "complained about",
    "recommended",
    "finally finished",
    "keeps talking about",
]
_OBJECTS = [
    "the trip to Lisbon in May",
    "a vegetarian lasagna",
    "the database migration",
    "her birthday party next Saturday",
    "the broken dishwasher",
    "learning to play the cello",
    "a budget of $1,200 for the new laptop",
    "the hiking trail near the lake",
    "version 2.3 of the app",
    "the book club's choice for March",
]
_TAILS = [
    "",
    "",
    " because it was raining all week",
    " and I should remember that",
    " although nobody agreed on the details",
    " before the deadline on Friday",
    ", so please remind me tomorrow morning",
    " while we were waiting for the train",
]
_QUESTIONS = [
    "What did I say about {o}?",
    "Do you remember when {s} {v} {o}?",
    "Why is {o} so important to {s}?",
]


def sample_sentences(n: int, seed: int = 0) -> list[str]:
    """`n` varied chat-like sentences (roughly 6-30 words), the same for the same seed."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        s, v, o = rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS)
        if rng.random() < 0.25:
            out.append(rng.choice(_QUESTIONS).format(s=s, v=v, o=o))
            continue
        sentence = f"{s.capitalize()} {v} {o}{rng.choice(_TAILS)}."
        if rng.random() < 0.3:  # some two-sentence messages, for a spread of lengths
            sentence += (
                f" Then {rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}."
            )
        out.append(sentence)
    return out


def measure(embedder: Embedder, sentences: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Per pass over all sentences: sentences per second, and CPU milliseconds per sentence.

    The whole list goes to one `embed` call, as ingestion does; the embedder batches
    internally. CPU time (all threads) is reported because wall time on a shared
    machine depends on what else runs there.
    """
    embedder.embed(sentences[:32])  # warm-up: first-run allocations and caches
    rates, cpu_ms = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        embedder.embed(sentences)
        rates.append(len(sentences) / (time.perf_counter() - wall))
        cpu_ms.append(1000 * (time.process_time() - cpu) / len(sentences))
    return rates, cpu_ms


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--provider", default="local", choices=["local", "hash", "openai"])
    parser.add_argument("--model", default=None)
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--batch", type=int, default=32, help="texts per model call")
    parser.add_argument("--sentences", type=int, default=512)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    config = EmbeddingConfig(provider=args.provider, base_url=args.base_url)
    if args.model:
        config.model = args.model
    embedder = create_embedder(config)
    if hasattr(embedder, "batch_size"):
        embedder.batch_size = args.batch
    rates, cpu_ms = measure(embedder, sample_sentences(args.sentences), args.runs)
    print(
        json.dumps(
            {
                "sentences_per_s_median": round(statistics.median(rates), 1),
                "runs": [round(r, 1) for r in rates],
                "cpu_ms_per_sentence_median": round(statistics.median(cpu_ms), 2),
                "batch": getattr(embedder, "batch_size", None),
                "sentences": args.sentences,
                "backend": f"{args.provider}:{type(embedder).__name__}",
            }
        )
    )


if __name__ == "__main__":
    main()
