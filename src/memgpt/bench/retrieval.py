"""`memgpt bench retrieval`: LLM-free retrieval quality of recall and archival search.

For questions with labelled evidence (the synthetic generator's planted facts and
documents), recall@k is the fraction of questions whose evidence is among the first k
results, for three rankings of the same store:

- archival (what archival_memory_search ranks): text-only is the store's hybrid search
  given no query vector (FTS5 BM25 alone), vector-only is `search_passages`, hybrid is
  `search_archival` with both (reciprocal rank fusion);
- recall (what conversation_search ranks): text-only is the store's `search_messages`,
  the ranking the agent gets today. The store has no semantic recall search, so
  vector-only (cosine over the embedded messages, exact) and hybrid (the same fusion
  as archival) are computed here, to show what adding one would change.

The query is the question as asked: no model rewrites it. Each figure is given per kind
of question (see memgpt.bench.synthetic): lexical questions reuse the evidence's words;
paraphrases share none of its content words, which is where text ranking stops working
and meaning has to carry the search (an archival paraphrase keeps the town's name, the
only thing that tells one article from another, so there text still finds the article).
"""

from __future__ import annotations

import argparse

import numpy as np

from memgpt.bench import common, synthetic
from memgpt.schemas import AgentState, Block, Passage
from memgpt.store.fusion import reciprocal_rank_fusion

KS = (1, 5, 10)
DEPTH = 100  # candidates per ranking, as the store's own fusion uses
KINDS = ("lexical", "paraphrase")


def recall_at(
    rankings: dict[str, list[list[str]]], evidence: list[set[str]]
) -> dict[str, dict[str, float]]:
    return {
        mode: {
            f"recall@{k}": sum(e <= set(r[:k]) for r, e in zip(ranked, evidence, strict=True))
            / len(evidence)
            for k in KS
        }
        for mode, ranked in rankings.items()
    }


def recall_by_kind(
    rankings: dict[str, list[list[str]]], evidence: list[set[str]], kinds: list[str]
) -> dict[str, dict[str, dict[str, float]]]:
    """recall@k of each ranking over each kind of question on its own."""
    return {
        kind: recall_at(
            {
                mode: [r for r, k in zip(ranked, kinds, strict=True) if k == kind]
                for mode, ranked in rankings.items()
            },
            [e for e, k in zip(evidence, kinds, strict=True) if k == kind],
        )
        for kind in KINDS
    }


def new_agent(store, name: str) -> str:
    state = AgentState(name=name, system="bench", blocks=[Block(label="human")])
    store.create_agent(state)
    return state.id


def recall_rankings(
    store, embedder, conversations: list[synthetic.Conversation]
) -> tuple[dict, list[set[str]], list[str]]:
    rankings: dict[str, list[list[str]]] = {"text": [], "vector": [], "hybrid": []}
    evidence, kinds = [], []
    for c, conversation in enumerate(conversations):
        agent_id = new_agent(store, f"recall-{c}")
        store.append_messages(agent_id, common.as_messages(agent_id, conversation.turns))
        ids = [common.message_id(agent_id, t.id) for t in conversation.turns]
        vectors = embedder.embed([t.text for t in conversation.turns])
        for question in conversation.questions + conversation.paraphrases:
            text = [m.id for m in store.search_messages(agent_id, question.text, DEPTH)[0]]
            order = np.argsort(-(vectors @ embedder.embed([question.text])[0]), kind="stable")[
                :DEPTH
            ]
            vector = [ids[i] for i in order]
            rankings["text"].append(text)
            rankings["vector"].append(vector)
            rankings["hybrid"].append([mid for mid, _ in reciprocal_rank_fusion(vector, text)])
            evidence.append({common.message_id(agent_id, e) for e in question.evidence})
            kinds.append(question.kind)
    return rankings, evidence, kinds


def archival_rankings(
    store, embedder, docs: list[synthetic.Document], questions
) -> tuple[dict, list[set[str]], list[str]]:
    agent_id = new_agent(store, "archival")
    vectors = embedder.embed([d.text for d in docs])
    store.insert_passages(
        agent_id,
        [
            Passage(id=d.id, text=d.text, embedding=v.tolist())
            for d, v in zip(docs, vectors, strict=True)
        ],
    )
    store.flush_index()
    rankings: dict[str, list[list[str]]] = {"text": [], "vector": [], "hybrid": []}
    for _doc, question in questions:
        query = embedder.embed([question.text])[0]
        rankings["text"].append(
            [h.passage.id for h in store.search_archival(agent_id, question.text, None, DEPTH)[0]]
        )
        rankings["vector"].append([p.id for p, _ in store.search_passages(agent_id, query, DEPTH)])
        rankings["hybrid"].append(
            [h.passage.id for h in store.search_archival(agent_id, question.text, query, DEPTH)[0]]
        )
    return rankings, [set(q.evidence) for _, q in questions], [q.kind for _, q in questions]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="memgpt bench retrieval", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--embedding", help="local, openai or hash (default: the configured one)")
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=10, help="sessions per conversation")
    parser.add_argument("--turns", type=int, default=20, help="user turns per session")
    parser.add_argument(
        "--facts", type=int, default=5, help="planted facts (questions) per conversation"
    )
    parser.add_argument("--docs", type=int, default=1000, help="documents in archival storage")
    parser.add_argument(
        "--doc-questions", type=int, default=300, help="archival questions of each kind"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", help="where the scratch database goes (default: a temp dir)")
    args = parser.parse_args(argv)
    embedding, embedder = common.make_embedder(args.embedding)
    conversations = [
        synthetic.conversation(args.seed + i, args.sessions, args.turns, args.facts)
        for i in range(args.conversations)
    ]
    docs = synthetic.documents(args.seed, args.docs)
    doc_questions = [
        q for kind in KINDS for q in synthetic.doc_questions(docs, args.doc_questions, kind)
    ]
    with common.scratch_client(args.workdir) as client:
        recall = recall_by_kind(*recall_rankings(client.store, embedder, conversations))
        archival = recall_by_kind(*archival_rankings(client.store, embedder, docs, doc_questions))
    result = {
        "benchmark": "retrieval",
        "embedding": f"{embedding.provider}/{embedding.model}",
        "seed": args.seed,
        "recall_questions": {
            "lexical": sum(len(c.questions) for c in conversations),
            "paraphrase": sum(len(c.paraphrases) for c in conversations),
        },
        "recall_messages_per_conversation": 2 * args.sessions * args.turns,
        "archival_questions": {kind: args.doc_questions for kind in KINDS},
        "archival_passages": args.docs,
        "conversation_search": recall,
        "archival_memory_search": archival,
    }
    rows = [
        (store_name, kind, mode, *scores.values())
        for store_name, kinds in (("recall", recall), ("archival", archival))
        for kind, modes in kinds.items()
        for mode, scores in modes.items()
    ]
    common.emit(result, rows, ["store", "question", "ranking", *(f"R@{k}" for k in KS)])
    return 0
