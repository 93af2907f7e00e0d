"""`memgpt bench nested-kv`: the paper's nested key-value retrieval (Packer et al. 2023, 3.2.2).

Each case takes 140 UUID key-value pairs; for nesting level L, L+1 of the records are
chained (each value replaced by the next record's key), and the question asks for the
value of the first key: the answer is reached by following values that are also keys.

- memgpt: the 140 pairs are passages in the agent's archival storage; the agent gets
  only the question and must page the chain in with archival_memory_search.
- fixed_context: the paper's baseline on the same model: every pair in the prompt, one
  call, no functions. A prompt larger than the window counts as wrong ("overflow").

`--model oracle` is a scripted policy that really follows the chain through
archival_memory_search (and solves the baseline from its prompt): with it, both
accuracies must be 1.0, which checks the harness end to end without a model.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from memgpt.bench import common
from memgpt.llm.base import ChatMessage, FunctionSchema, LLMClient, LLMReply
from memgpt.llm.scripted import ScriptedLLM, call, default_summary
from memgpt.schemas import Passage

LEVELS = range(5)
ORACLE_WINDOW = 32_768
QUESTION = (
    "Your archival memory holds key-value pairs, one per passage, written as "
    '"key: KEY, value: VALUE". A value may itself be a key: then look that key up too, and '
    "keep going until you reach a value that is not a key. What is the final value for the "
    "key {key}? Answer with the value only."
)
BASELINE = (
    "Below is a JSON object of key-value pairs. A value may itself be a key in the object: "
    "then look that key up too, and keep going until you reach a value that is not a key.\n\n"
    "JSON data: {pairs}"
)
BASELINE_QUESTION = 'Key: "{key}"\nThe final value, and nothing else:'


@dataclass
class Case:
    level: int
    pairs: list[tuple[str, str]]
    key: str
    answer: str


def passage_text(key: str, value: str) -> str:
    return f"key: {key}, value: {value}"


def load_cases(folder: Path, level: int, samples: int) -> Iterator[Case]:
    """Sample s of a level: the s-th pair set, chained along the s-th ordering of that level."""
    orderings = folder / f"random_orderings_100_samples_140_indices_{level + 1}_levels.jsonl"
    with (
        gzip.open(folder / "kv-retrieval-140_keys.jsonl.gz", "rt") as kv,
        orderings.open() as order,
    ):
        for _, kv_line, order_line in zip(range(samples), kv, order, strict=False):
            pairs = [(k, v) for k, v in json.loads(kv_line)["ordered_kv_records"]]
            chain = json.loads(order_line)
            for here, after in zip(chain, chain[1:], strict=False):
                pairs[here] = (pairs[here][0], pairs[after][0])
            yield Case(level, pairs, key=pairs[chain[0]][0], answer=pairs[chain[-1]][1])


# --- the oracle: a scripted model that does the task the way MemGPT should ---


def oracle(messages: list[ChatMessage], functions: list[FunctionSchema]) -> LLMReply:
    """Search the key; while a hit has the searched text as its key, search its value;
    when none does, the searched text is the final value."""
    start, packet = common.last_user_event(messages)
    keys = common.uuids(packet.get("message", ""))
    if not keys:
        return call("send_message", "no key asked", message="Which key should I look up?")
    searches = common.searches_since(messages, start)
    if not searches:
        return call(
            "archival_memory_search", "look the key up", query=keys[0], request_heartbeat=True
        )
    query, hits = searches[-1]
    for hit in hits:
        pair = common.uuids(hit.get("text", ""))
        if len(pair) == 2 and pair[0] == query:
            return call(
                "archival_memory_search", "follow the value", query=pair[1], request_heartbeat=True
            )
    if len(searches) == 1:
        return call("send_message", "the key is not stored", message="I could not find that key.")
    return call("send_message", "not a key: the final value", message=query)


def oracle_fixed_context(messages: list[ChatMessage]) -> str:
    """The baseline, solved from the prompt: follow the chain through the JSON object.
    Other plain-text calls are the summarizer's: they get the default summary."""
    if "JSON data: " not in messages[0].content:
        return default_summary(messages)
    pairs = json.loads(messages[0].content.split("JSON data: ", 1)[1])
    key = common.uuids(messages[-1].content)[0]
    while key in pairs:
        key = pairs[key]
    return key


def oracle_llm() -> LLMClient:
    # A window the whole chain fits in: the oracle reads its search results from the queue.
    return ScriptedLLM(oracle, context_window=ORACLE_WINDOW, summarize=oracle_fixed_context)


# --- running ---


def run_memgpt(client, llm: LLMClient, embedding, embedder, case: Case, name: str) -> dict:
    agent = client.create_agent(name, llm=llm, embedding=embedding, embedder=embedder)
    texts = [passage_text(k, v) for k, v in case.pairs]
    vectors = embedder.embed(texts)
    client.store.insert_passages(
        agent.id,
        [Passage(text=t, embedding=v.tolist()) for t, v in zip(texts, vectors, strict=True)],
    )
    began = time.perf_counter()
    response = agent.send(QUESTION.format(key=case.key))
    elapsed = time.perf_counter() - began
    return {
        "correct": case.answer in common.uuids(common.reply_text(response)),
        "steps": response.steps,
        "stop_reason": str(response.stop_reason),
        "seconds": elapsed,
    }


def run_fixed_context(llm: LLMClient, case: Case) -> dict:
    system = BASELINE.format(pairs=json.dumps(dict(case.pairs)))
    messages = [
        ChatMessage(role="system", content=system),
        ChatMessage(role="user", content=BASELINE_QUESTION.format(key=case.key)),
    ]
    needed = sum(llm.count_tokens(m.content) for m in messages)
    if needed > llm.config.context_window - llm.config.max_output_tokens:
        return {"correct": False, "overflow": True, "seconds": 0.0}
    began = time.perf_counter()
    reply = llm.chat(messages, [])
    return {
        "correct": case.answer in common.uuids(reply.content or ""),
        "overflow": False,
        "seconds": time.perf_counter() - began,
    }


def summarize(memgpt: list[dict], baseline: list[dict]) -> dict:
    n = len(memgpt)
    return {
        "n": n,
        "memgpt": {
            "accuracy": sum(r["correct"] for r in memgpt) / n,
            "mean_steps": sum(r["steps"] for r in memgpt) / n,
            "median_s": common.median([r["seconds"] for r in memgpt]),
            "stop_reasons": {
                s: sum(r["stop_reason"] == s for r in memgpt)
                for s in {r["stop_reason"] for r in memgpt}
            },
        },
        "fixed_context": {
            "accuracy": sum(r["correct"] for r in baseline) / n,
            "overflow": sum(r["overflow"] for r in baseline),
            "median_s": common.median([r["seconds"] for r in baseline]),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="memgpt bench nested-kv", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--model", help='model string, or "oracle" (default: the configured model)')
    parser.add_argument("--embedding", help="local, openai or hash (default: the configured one)")
    parser.add_argument(
        "--samples", type=int, default=10, help="cases per nesting level (at most 100)"
    )
    parser.add_argument("--levels", default="0,1,2,3,4", help="comma-separated nesting levels 0-4")
    parser.add_argument(
        "--data", help="the shared data folder (default: $MEMGPT_DATA or ../shared/data)"
    )
    parser.add_argument("--workdir", help="where the scratch database goes (default: a temp dir)")
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",")]
    if any(level not in LEVELS for level in levels) or not 1 <= args.samples <= 100:
        parser.error("levels are 0-4 and --samples is 1-100")
    folder = common.data_dir(args.data) / "nested_kv"
    llm = common.make_llm(args.model, oracle_llm)
    embedding, embedder = common.make_embedder("hash" if args.model == "oracle" else args.embedding)
    results: dict[str, dict] = {}
    with common.scratch_client(args.workdir) as client:
        for level in levels:
            memgpt, baseline = [], []
            for i, case in enumerate(load_cases(folder, level, args.samples)):
                memgpt.append(run_memgpt(client, llm, embedding, embedder, case, f"kv-{level}-{i}"))
                baseline.append(run_fixed_context(llm, case))
            results[str(level)] = summarize(memgpt, baseline)
    result = {
        "benchmark": "nested-kv",
        "model": f"{llm.config.provider}/{llm.config.model}"
        if args.model != "oracle"
        else "oracle",
        "embedding": f"{embedding.provider}/{embedding.model}",
        "samples_per_level": args.samples,
        "levels": results,
    }
    rows = [
        (
            lv,
            r["n"],
            r["memgpt"]["accuracy"],
            r["memgpt"]["mean_steps"],
            r["fixed_context"]["accuracy"],
            r["fixed_context"]["overflow"],
        )
        for lv, r in results.items()
    ]
    common.emit(result, rows, ["level", "n", "memgpt_acc", "steps", "fixed_ctx_acc", "overflow"])
    return 0
