"""`memgpt bench docqa`: document QA as the collection grows (Packer et al. 2023, 3.2.1).

A seeded collection of short articles (memgpt.bench.synthetic.documents) is loaded
through the normal pipeline into a document source attached to the agent; each
question's answer is planted in one article. The same questions are asked at every
collection size, so accuracy against size shows what the added documents cost.
Correct means the reply contains the planted answer.

`--model oracle` searches archival memory with the question's content words and answers
with the hit sharing most words with the question: a harness check.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from memgpt.bench import common, synthetic
from memgpt.llm.base import ChatMessage, FunctionSchema, LLMClient, LLMReply
from memgpt.llm.scripted import ScriptedLLM, call

PROMPT = "Answer from the documents in your archival memory: {question}"


def oracle(messages: list[ChatMessage], functions: list[FunctionSchema]) -> LLMReply:
    start, packet = common.last_user_event(messages)
    query = common.content_words(packet.get("message", "").split(": ", 1)[-1])
    searches = common.searches_since(messages, start)
    if not searches:
        return call(
            "archival_memory_search", "it is in the documents", query=query, request_heartbeat=True
        )
    wanted = set(query.split())
    texts = [h.get("text", "") for h in searches[-1][1]]
    best = max(
        texts, key=lambda t: len(wanted & set(common.tokens(t))), default="I could not find it."
    )
    return call("send_message", "this passage answers it", message=best)


def oracle_llm() -> LLMClient:
    return ScriptedLLM(oracle)


def write_corpus(docs: list[synthetic.Document], folder: Path) -> None:
    for doc in docs:
        (folder / f"{doc.id}.txt").write_text(doc.text, encoding="utf-8")


def run_size(client, llm, embedding, embedder, docs, questions, size: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        write_corpus(docs[:size], Path(tmp))
        began = time.perf_counter()
        client.load(f"docs-{size}", tmp, embedding=embedding, embedder=embedder)
        load_s = time.perf_counter() - began
    client.store.flush_index()
    correct, steps, seconds = 0, [], []
    for i, (_doc, question) in enumerate(questions):
        agent = client.create_agent(
            f"docqa-{size}-{i}", llm=llm, embedding=embedding, embedder=embedder
        )
        agent.attach_source(f"docs-{size}")
        began = time.perf_counter()
        response = agent.send(PROMPT.format(question=question.text))
        seconds.append(time.perf_counter() - began)
        correct += common.contains(common.reply_text(response), question.answer)
        steps.append(response.steps)
    return {
        "documents": size,
        "questions": len(questions),
        "accuracy": correct / len(questions),
        "mean_steps": sum(steps) / len(steps),
        "median_s": common.median(seconds),
        "load_s": load_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="memgpt bench docqa", description=__doc__.split("\n")[0])
    parser.add_argument("--model", help='model string, or "oracle" (default: the configured model)')
    parser.add_argument("--embedding", help="local, openai or hash (default: the configured one)")
    parser.add_argument("--sizes", default="10,100,1000", help="comma-separated collection sizes")
    parser.add_argument("--questions", type=int, default=30, help="questions asked at every size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", help="where the scratch database goes (default: a temp dir)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    attributes = len(synthetic.DOC_QUESTIONS)
    if min(sizes) * attributes < args.questions:
        parser.error(f"the smallest size holds {min(sizes) * attributes} questions; ask fewer")
    docs = synthetic.documents(args.seed, max(sizes))
    questions = synthetic.doc_questions(docs, args.questions)
    llm = common.make_llm(args.model, oracle_llm)
    embedding, embedder = common.make_embedder("hash" if args.model == "oracle" else args.embedding)
    with common.scratch_client(args.workdir) as client:
        results = [run_size(client, llm, embedding, embedder, docs, questions, n) for n in sizes]
    result = {
        "benchmark": "docqa",
        "model": "oracle"
        if args.model == "oracle"
        else f"{llm.config.provider}/{llm.config.model}",
        "embedding": f"{embedding.provider}/{embedding.model}",
        "seed": args.seed,
        "sizes": results,
    }
    rows = [
        (r["documents"], r["questions"], r["accuracy"], r["mean_steps"], r["median_s"], r["load_s"])
        for r in results
    ]
    common.emit(result, rows, ["documents", "questions", "accuracy", "steps", "median_s", "load_s"])
    return 0
