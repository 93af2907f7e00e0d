"""`memgpt bench retrieval`: LLM-free retrieval quality of recall and archival search.

For questions with labelled evidence, recall@k is the fraction of questions whose
evidence (all of it, for a question that needs two turns) is among the first k
results, for three rankings of the same store:

- recall (what conversation_search ranks), over the long multi-session conversations
  of `memgpt.bench.multi_session` (facts that change, two-turn facts, dated events,
  paraphrases, codes): text-only is the store's `search_messages`, vector-only its
  `recall_vector_ranking` over the messages' vectors (given as the embedding worker
  stores them), hybrid its `search_recall`, what the agent gets;
- archival (what archival_memory_search ranks), over the documents of
  `memgpt.bench.synthetic`: text-only is the store's hybrid search given no query
  vector, vector-only is `search_passages`, hybrid is `search_archival` with both.

The query is the question as asked: no model rewrites it. Each figure is given per kind
of question: lexical questions reuse the evidence's words; paraphrases share none of its
content words, which is where text ranking stops working and meaning has to carry the
search (an archival paraphrase keeps the town's name, the only thing that tells one
article from another, so there text still finds the article).

`--sweep` scores every fusion setting of a grid on the same rankings instead, and
names the one `memgpt.store.fusion.FUSION` should hold (see `best_fusion`).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
from pathlib import Path

import numpy as np

from memgpt.bench import common, multi_session, synthetic
from memgpt.memory import relevance
from memgpt.schemas import AgentState, Block, Passage
from memgpt.store.fusion import FUSION, Fusion, fuse

KS = (1, 5, 10)
# Queries that mean nothing: what the relevance floor should leave few results for.
NONSENSE = ["xyzzy qwerty", "asdf jkl", "zxcv bnm qwop", "blorf snark", "qqq zzz www"]
DEPTH = 100  # candidates per ranking, as the store's own fusion uses
DOC_KINDS = ("lexical", "paraphrase")
# The grid of `--sweep`: floor 1 is weighted RRF without the agreement gate, and
# k 60, weight 1, floor 1 is plain RRF.
SWEEP = {
    "k": (1, 2, 3, 5, 10, 60),
    "text_weight": (0.5, 0.6, 0.75, 1.0),
    "depth": (3, 5, 10),
    "floor": (0.25, 0.5, 1.0),
}


def recall_at(ranked: list[list], evidence: list[set[str]]) -> dict[str, float]:
    return {
        f"recall@{k}": sum(e <= set(r[:k]) for r, e in zip(ranked, evidence, strict=True))
        / max(len(evidence), 1)
        for k in KS
    }


def date_at_1(ranked: list[list], questions: list[dict]) -> float:
    """The fraction of questions whose first result is dated (as stored) the answer's day."""
    return sum(
        bool(r) and q["dates"][r[0]] == q["answer"] for r, q in zip(ranked, questions, strict=True)
    ) / max(len(questions), 1)


def report(questions: list[dict], fusion: Fusion) -> dict[str, dict[str, dict[str, float]]]:
    """recall@k of each ranking (text, vector, hybrid by `fusion`) per kind of question,
    and for questions asking when, how often the first result has the answer's date."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for kind in dict.fromkeys(q["kind"] for q in questions):
        mine = [q for q in questions if q["kind"] == kind]
        rankings = {
            "text": [q["text"] for q in mine],
            "vector": [q["vector"] for q in mine],
            "hybrid": [[i for i, _ in fuse(q["vector"], q["text"], fusion)] for q in mine],
        }
        out[kind] = {
            mode: recall_at(ranked, [q["evidence"] for q in mine])
            | ({"date@1": date_at_1(ranked, mine)} if kind == "temporal" else {})
            for mode, ranked in rankings.items()
        }
    return out


def new_agent(store, name: str) -> str:
    state = AgentState(name=name, system="bench", blocks=[Block(label="human")])
    store.create_agent(state)
    return state.id


def embed(embedder, name: str, texts: list[str], cache: Path | None) -> np.ndarray:
    """The texts' embeddings, from `cache` when an earlier run with this embedder kept them."""
    if cache is None:
        return embedder.embed(texts)
    key = hashlib.sha256("\n".join([name, *texts]).encode("utf-8", "surrogatepass")).hexdigest()
    path = cache / f"{key[:32]}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors, allow_pickle=False)
    return vectors


def nonsense(store, embedder, agent_id: str, vectors: np.ndarray, kind: relevance.Kind) -> dict:
    """How many results meaningless queries get, with the relevance floor and without."""
    least = relevance.floor(store, embedder, agent_id, kind)
    counts: dict[str, list[int]] = {"floor": [], "no_floor": []}
    for text, vector in zip(NONSENSE, vectors, strict=True):
        for name, floor in (("floor", least), ("no_floor", None)):
            if kind == "recall":
                total = store.search_recall(agent_id, text, vector, 5, floor=floor)[1]
            else:
                total = store.search_archival(agent_id, text, vector, 5, floor=floor)[1]
            counts[name].append(total)
    return counts


def recall_questions(
    store, embed_texts, embedder, histories: list[multi_session.History]
) -> tuple[list[dict], dict]:
    """Each conversation question with its text and vector rankings (best first) and its
    evidence, as message ids; and how many results meaningless queries get."""
    out = []
    junk: dict[str, list[int]] = {"floor": [], "no_floor": []}
    junk_vectors = embed_texts(NONSENSE)
    for c, history in enumerate(histories):
        agent_id = new_agent(store, f"recall-{c}")
        store.append_messages(agent_id, common.as_messages(agent_id, history.turns))
        ids = [common.message_id(agent_id, t.id) for t in history.turns]
        # The days as the store keeps them: what conversation_search shows with each hit.
        dates = {
            m.id: m.created_at.date().isoformat()
            for m in store.list_messages(agent_id, limit=store.count_messages(agent_id))
        }
        # A turn's text is what the worker embeds of its message (`searchable_text`).
        vectors = embed_texts([t.text for t in history.turns])
        store.add_message_vectors(
            agent_id, list(zip(ids, vectors, strict=True)), store.last_seq(agent_id)
        )
        queries = embed_texts([q.text for q in history.questions])
        least = relevance.floor(store, embedder, agent_id, "recall")
        for name, counts in nonsense(store, embedder, agent_id, junk_vectors, "recall").items():
            junk[name] += counts
        for question, query in zip(history.questions, queries, strict=True):
            text = store.search_messages(agent_id, question.text, DEPTH)[0]
            vector = store.recall_vector_ranking(agent_id, query, DEPTH)
            hybrid = store.search_recall(agent_id, question.text, query, DEPTH, floor=least)[0]
            unfloored = store.search_recall(agent_id, question.text, query, DEPTH)[0]
            out.append(
                {
                    "kind": question.kind,
                    "text": [m.id for m in text],
                    "vector": [i for i, s in vector if s > least],
                    "vector_no_floor": [i for i, _ in vector],
                    "store_hybrid": [m.id for m in hybrid],
                    "store_hybrid_no_floor": [m.id for m in unfloored],
                    "evidence": {common.message_id(agent_id, e) for e in question.evidence},
                    "answer": question.answer,
                    "dates": dates,
                }
            )
    return out, junk


def archival_questions(
    store, embed_texts, embedder, docs: list[synthetic.Document], questions
) -> tuple[list[dict], dict, dict]:
    """Each document question with its text and vector rankings (best first), the
    store's own hybrid ranking's recall per kind (with the relevance floor and without),
    and how many results meaningless queries get."""
    agent_id = new_agent(store, "archival")
    vectors = embed_texts([d.text for d in docs])
    store.insert_passages(
        agent_id,
        [
            Passage(id=d.id, text=d.text, embedding=v.tolist())
            for d, v in zip(docs, vectors, strict=True)
        ],
    )
    store.flush_index()
    queries = embed_texts([q.text for _, q in questions])
    least = relevance.floor(store, embedder, agent_id, "archival")
    junk = nonsense(store, embedder, agent_id, embed_texts(NONSENSE), "archival")
    out, hybrid = [], {"hybrid": [], "hybrid_no_floor": []}
    for (_doc, question), query in zip(questions, queries, strict=True):
        text = store.search_archival(agent_id, question.text, None, DEPTH)[0]
        vector = store.search_passages(agent_id, query, DEPTH)
        out.append(
            {
                "kind": question.kind,
                "text": [h.passage.id for h in text],
                "vector": [p.id for p, s in vector if s > least],
                "vector_no_floor": [p.id for p, _ in vector],
                "evidence": set(question.evidence),
            }
        )
        for name, floor in (("hybrid", least), ("hybrid_no_floor", None)):
            found = store.search_archival(agent_id, question.text, query, DEPTH, floor=floor)[0]
            hybrid[name].append([h.passage.id for h in found])
    store_hybrid = {
        kind: {
            name: recall_at(
                [r for r, q in zip(ranked, out, strict=True) if q["kind"] == kind],
                [q["evidence"] for q in out if q["kind"] == kind],
            )
            for name, ranked in hybrid.items()
        }
        for kind in DOC_KINDS
    }
    return out, store_hybrid, junk


def margin(reports: list[dict], at: str = "recall@10") -> float:
    """The worst, over every kind, of hybrid's recall minus the better of its inputs'."""
    return min(
        r["hybrid"][at] - max(r["text"][at], r["vector"][at])
        for report_ in reports
        for r in report_.values()
    )


def best_fusion(recall: list[dict], archival: list[dict]) -> list[dict]:
    """Every setting of the grid, best first: the highest worst-case margin at depth 10
    (the aim: hybrid never loses to its best input), then the highest mean hybrid
    recall@1, @5 and @10 over every kind of both searches."""
    rows = []
    for setting in itertools.product(*SWEEP.values()):
        fusion = Fusion(*setting)
        reports = [report(recall, fusion), report(archival, fusion)]
        hybrid = [r["hybrid"] for rep in reports for r in rep.values()]
        rows.append(
            {
                **vars(fusion),
                "margin@10": round(margin(reports), 4),
                "margin@5": round(margin(reports, "recall@5"), 4),
                **{
                    f"hybrid@{n}": round(sum(h[f"recall@{n}"] for h in hybrid) / len(hybrid), 4)
                    for n in KS
                },
            }
        )
    return sorted(rows, key=lambda r: (-r["margin@10"], -sum(r[f"hybrid@{n}"] for n in KS)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="memgpt bench retrieval", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--embedding", help="local, openai or hash (default: the configured one)")
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=10, help="sessions per conversation")
    parser.add_argument("--turns", type=int, default=20, help="user turns per session")
    parser.add_argument(
        "--facts", type=int, default=5, help="facts per conversation, asked in two ways"
    )
    parser.add_argument("--updates", type=int, default=3, help="changing facts per conversation")
    parser.add_argument("--hops", type=int, default=3, help="two-turn facts per conversation")
    parser.add_argument("--events", type=int, default=3, help="dated events per conversation")
    parser.add_argument("--codes", type=int, default=3, help="codes said once per conversation")
    parser.add_argument("--docs", type=int, default=1000, help="documents in archival storage")
    parser.add_argument(
        "--doc-questions", type=int, default=300, help="archival questions of each kind"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", help="where the scratch database goes (default: a temp dir)")
    parser.add_argument("--cache", help="where embeddings are kept between runs (default: none)")
    parser.add_argument(
        "--sweep", action="store_true", help="score the grid of fusion settings instead"
    )
    args = parser.parse_args(argv)
    embedding, embedder = common.make_embedder(args.embedding)
    name = f"{embedding.provider}/{embedding.model}"
    cache = Path(args.cache) if args.cache else None

    def embed_texts(texts: list[str]) -> np.ndarray:
        return embed(embedder, name, texts, cache)

    histories = [
        multi_session.history(
            args.seed + i,
            args.sessions,
            args.turns,
            args.facts,
            args.updates,
            args.hops,
            args.events,
            args.codes,
        )
        for i in range(args.conversations)
    ]
    docs = synthetic.documents(args.seed, args.docs)
    doc_questions = [
        q for kind in DOC_KINDS for q in synthetic.doc_questions(docs, args.doc_questions, kind)
    ]
    with common.scratch_client(args.workdir) as client:
        recall, recall_junk = recall_questions(client.store, embed_texts, embedder, histories)
        archival, store_hybrid, archival_junk = archival_questions(
            client.store, embed_texts, embedder, docs, doc_questions
        )
    if args.sweep:
        rows = best_fusion(recall, archival)
        common.emit(
            {"benchmark": "retrieval-sweep", "embedding": name, "seed": args.seed, "grid": rows},
            [list(r.values()) for r in rows[:10]],
            list(rows[0]),
        )
        return 0
    conversation = report(recall, FUSION)
    for kind, mine in _by_kind(recall).items():
        # The store's own fusion, not this module's call of it, is what the agent gets.
        for name, key in (
            ("hybrid", "store_hybrid"),
            ("hybrid_no_floor", "store_hybrid_no_floor"),
            ("vector_no_floor", "vector_no_floor"),
        ):
            ranked = [q[key] for q in mine]
            conversation[kind][name] = recall_at(ranked, [q["evidence"] for q in mine]) | (
                {"date@1": date_at_1(ranked, mine)} if kind == "temporal" else {}
            )
    documents = report(archival, FUSION)
    for kind, figures in store_hybrid.items():
        # The store's own fusion, not this module's call of it, is what the agent gets.
        documents[kind] |= figures
        mine = [q for q in archival if q["kind"] == kind]
        documents[kind]["vector_no_floor"] = recall_at(
            [q["vector_no_floor"] for q in mine], [q["evidence"] for q in mine]
        )
    result = {
        "benchmark": "retrieval",
        "embedding": name,
        "seed": args.seed,
        "fusion": vars(FUSION),
        "recall_questions": {k: len(v) for k, v in _by_kind(recall).items()},
        "recall_messages_per_conversation": 2 * args.sessions * args.turns,
        "archival_questions": {kind: args.doc_questions for kind in DOC_KINDS},
        "archival_passages": args.docs,
        "hybrid_margin@10": round(margin([conversation, documents]), 4),
        "relevance_floor": {
            "probes": relevance.PROBES,
            "quantile": relevance.QUANTILE,
            "rank": relevance.RANK,
        },
        "nonsense_results": {
            store_name: {name: float(np.mean(counts)) for name, counts in junk.items()}
            for store_name, junk in (("recall", recall_junk), ("archival", archival_junk))
        },
        "conversation_search": conversation,
        "archival_memory_search": documents,
    }
    rows = [
        (store_name, kind, mode, *(scores[f"recall@{k}"] for k in KS), scores.get("date@1"))
        for store_name, kinds in (("recall", conversation), ("archival", documents))
        for kind, modes in kinds.items()
        for mode, scores in modes.items()
    ]
    header = ["store", "question", "ranking", *(f"R@{k}" for k in KS), "date@1"]
    common.emit(result, rows, header)
    return 0


def _by_kind(questions: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for q in questions:
        out.setdefault(q["kind"], []).append(q)
    return out
