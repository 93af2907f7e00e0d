"""`memgpt bench NAME [ARGS...]`: the benchmarks, each a module of memgpt.bench printing JSON.

Each benchmark parses its own arguments, so they are passed through untouched.
"""

from __future__ import annotations

import importlib

import click

BENCHMARKS = {
    "archival": ("memgpt.bench.archival", "archival insert/search rate, recall@10, RSS, disk"),
    "embed": ("memgpt.bench.embeddings", "embedding throughput (sentences/s)"),
    "local-llm": ("memgpt.bench.local_llm", "the local model's prompt and generation tokens/s"),
    "reliability": (
        "memgpt.bench.reliability",
        "crash, faulty-model, context, upgrade, hostile-input checks",
    ),
    "nested-kv": ("memgpt.bench.nested_kv", "the paper's nested key-value retrieval, per level"),
    "dmr": ("memgpt.bench.dmr", "deep memory retrieval over earlier sessions"),
    "docqa": ("memgpt.bench.docqa", "document QA accuracy as the collection grows"),
    "retrieval": ("memgpt.bench.retrieval", "recall@k of text, vector and hybrid search"),
    "perf": ("memgpt.bench.perf", "step, compile and search cost against history; cold starts"),
    "prompt-cache": (
        "memgpt.bench.prompt_cache",
        "prefix share of each request; tokens evaluated and turn time on the embedded model",
    ),
    "tokens": ("memgpt.bench.tokens", "prompt tokens of instructions, schemas and each turn"),
    "server": ("memgpt.bench.server", "server cold start, message round trip, RSS"),
}


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    # "\b" keeps click from rewrapping the list into one paragraph
    epilog="\b\n" + "\n".join(f"{name}: {about}" for name, (_, about) in BENCHMARKS.items()),
)
@click.argument("name", type=click.Choice(sorted(BENCHMARKS)))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench(name: str, args: tuple[str, ...]) -> None:
    """Run a benchmark; it prints JSON. `memgpt bench NAME -- --help` lists its options."""
    module = importlib.import_module(BENCHMARKS[name][0])
    raise SystemExit(module.main(list(args)) or 0)
