"""`memgpt bench perf`: what the framework itself costs, with an instant scripted model.

For each history size (messages in recall storage; a child process each, so peak RSS
is its own) it builds the history straight through the store in large transactions,
then measures, as medians:
- one agent step (a user message answered by send_message), wall and CPU time;
- compiling main context (it must depend on the window, not on history);
- a recall search by words (the store's full-text ranking) and as conversation_search
  runs it, by words and meaning fused (hybrid), after every message is embedded: median
  and 90th percentile of wall time, and the median CPU time (what a busy machine's wall
  time hides);
- embedding one message behind a step (the worker's cost per message: embedding it and
  storing its vector), and the backfill of the whole history.
Then cold starts, each a fresh process, median of `--runs`: `memgpt --help`, `memgpt run`
to its first prompt (in a pseudo-terminal), and the server to its first healthy response;
one untimed start of each kind first compiles the modules (`common.bytecode_cache`) and
creates the agent, so every timed start reads bytecode and resumes the agent.
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import random
import resource
import select
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from memgpt.bench import common, synthetic
from memgpt.llm.base import ChatMessage, FunctionSchema, LLMReply
from memgpt.llm.scripted import call

INSTANT = "scripted/memgpt.bench.perf:instant"
BATCH = 50_000  # messages per transaction while building history
IN_CONTEXT = 30  # newest messages left in the FIFO queue
VOCABULARY = 5000  # distinct topic words, so full-text posting lists look like real text
TARGETS = {
    "step_ms_at_100k": 5.0,
    "help_s": 0.3,
    "recall_search_ms_at_1m": 10.0,
    "recall_hybrid_ms_at_1m": 15.0,
}


def instant(messages: list[ChatMessage], functions: list[FunctionSchema]) -> LLMReply:
    """The scripted model: answer at once, so only the framework is timed."""
    return call("send_message", "reply", message="ok")


def _words(rng: random.Random) -> list[str]:
    """`VOCABULARY` distinct words of four syllables (drawn without replacement: three
    syllables, drawn with it, gave only about 2,900 distinct words)."""
    syllables = synthetic._SYLLABLES
    base = len(syllables)
    return [
        "".join(syllables[code // base**i % base] for i in range(4))
        for code in rng.sample(range(base**4), VOCABULARY)
    ]


def history(n: int, seed: int = 0):
    """Conversation turns enough for `n` messages (3 per exchange), in batches.

    Every user turn and every reply is a filler sentence with three topic words of its
    own, so no two messages embed alike: with the replies repeated (eight of them),
    a third of the history embedded to eight vectors, which no conversation does and on
    which the recall index's HNSW build crawled."""
    rng = random.Random(seed)
    words = _words(rng)
    clock = datetime(2023, 1, 1, tzinfo=UTC)
    batch: list[synthetic.Turn] = []
    for i in range(0, n, 3):
        clock += timedelta(seconds=30)
        user, reply = (" ".join(rng.choices(words, k=3)) for _ in range(2))
        batch.append(synthetic.Turn("user", f"{rng.choice(synthetic.USER_FILLER)} {user}", clock))
        batch.append(
            synthetic.Turn("assistant", f"{rng.choice(synthetic.AGENT_FILLER)} {reply}", clock)
        )
        if len(batch) * 3 // 2 >= BATCH or i + 3 >= n:
            yield batch
            batch = []


def timed(fn: Callable[[], object], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each of `runs` calls."""
    wall, cpu = [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return wall, cpu


def ms(values: list[float]) -> float:
    return round(1000 * common.median(values), 3)


def p90_ms(values: list[float]) -> float:
    return round(1000 * common.percentile(values, 90), 3)


def build(client, n: int, embedding, embedder) -> tuple[float, float]:
    """Write the agent "perf" with `n` messages of history and embed them all; the
    seconds each took."""
    from memgpt.llm.scripted import ScriptedLLM
    from memgpt.memory import recall_embedding

    agent = client.create_agent(
        "perf", llm=ScriptedLLM(instant), embedding=embedding, embedder=embedder
    )
    began, written = time.perf_counter(), 0
    for turns in history(n):
        messages = common.as_messages(agent.id, turns)
        for m in messages[-IN_CONTEXT:]:
            m.in_context = written + len(messages) >= n  # only the newest stay in view
        client.store.append_messages(agent.id, messages)
        written += len(messages)
    build_s = time.perf_counter() - began
    began = time.perf_counter()
    recall_embedding.catch_up(client.store, embedder, agent.id)  # as `memgpt recall reindex`
    return round(build_s, 2), round(time.perf_counter() - began, 2)


def run_size(
    n: int, steps: int, searches: int, database: str, postgres: bool, embedding_name: str
) -> dict:
    from memgpt.agent import events
    from memgpt.client import MemGPT
    from memgpt.llm.scripted import ScriptedLLM
    from memgpt.memory import recall, recall_embedding

    client = MemGPT(store=common.open_bench_store(database, postgres))
    embedding, embedder = common.make_embedder(embedding_name)
    build_s = backfill_s = None  # a history kept from an earlier run (--keep-history)
    if client.store.get_agent("perf") is None:
        build_s, backfill_s = build(client, n, embedding, embedder)
    agent = client.get_agent("perf", llm=ScriptedLLM(instant), embedder=embedder)
    written = client.store.count_messages(agent.id)
    recall_embedding.WORKER.wait(client.store)  # a kept history's last run's tail
    open_wall, _ = timed(
        lambda: client.get_agent("perf", llm=ScriptedLLM(instant), embedder=embedder), 5
    )
    step_wall, step_cpu = timed(lambda: agent.send("hello there"), steps)
    # The steps' messages are embedded behind them, on the worker's thread: what follows
    # is timed once it is done, or its CPU counts in theirs (process time covers every
    # thread: text searches at 1M read 9.5 ms of CPU in 5.7 ms of wall time).
    recall_embedding.WORKER.wait(client.store)
    compile_wall, _ = timed(agent.compile, steps)
    rng = random.Random(1)
    words = _words(random.Random(0))
    queries = [" ".join(rng.choices(words, k=2)) for _ in range(searches)]
    it = iter(queries)
    search_wall, search_cpu = timed(
        lambda: recall.search_text(client.store, agent.id, next(it)), searches
    )
    it = iter(queries)
    hybrid_wall, hybrid_cpu = timed(
        lambda: recall.search_text(client.store, agent.id, next(it), 0, embedder), searches
    )

    def embed_one() -> None:
        client.store.append_messages(
            agent.id, [events.user_message(" ".join(rng.choices(words, k=8)))]
        )
        began = time.perf_counter()
        recall_embedding.catch_up(client.store, embedder, agent.id)
        embed_wall.append(time.perf_counter() - began)

    embed_wall: list[float] = []
    timed(embed_one, steps)
    client.close()
    return {
        "messages": written,
        "build_s": build_s,
        "open_agent_ms": ms(open_wall),
        "step_ms": ms(step_wall),
        "step_cpu_ms": ms(step_cpu),
        "compile_ms": ms(compile_wall),
        "recall_search_ms": ms(search_wall),
        "recall_search_p90_ms": p90_ms(search_wall),
        "recall_search_cpu_ms": ms(search_cpu),
        "recall_hybrid_ms": ms(hybrid_wall),
        "recall_hybrid_p90_ms": p90_ms(hybrid_wall),
        "recall_hybrid_cpu_ms": ms(hybrid_cpu),
        "embed_message_ms": ms(embed_wall),
        "backfill_s": backfill_s,
        "queue_messages": len(agent.queue),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _memgpt() -> str:
    return str(Path(sys.executable).with_name("memgpt"))


def _env(home: str) -> dict[str, str]:
    env = {
        **os.environ,
        "MEMGPT_HOME": home,
        "MEMGPT_MODEL": INSTANT,
        "MEMGPT_EMBEDDING": "hash",
        "PROMPT_TOOLKIT_NO_CPR": "1",
        "TERM": "xterm",
    }
    return common.bytecode_cache(env, f"{home}/bytecode")


def help_start(home: str) -> float:
    began = time.perf_counter()
    subprocess.run([_memgpt(), "--help"], check=True, capture_output=True, env=_env(home))
    return time.perf_counter() - began


def run_start(home: str) -> float:
    """`memgpt run` in a pseudo-terminal, until it shows the "you: " prompt."""
    leader, follower = pty.openpty()
    began = time.perf_counter()
    child = subprocess.Popen(
        [_memgpt(), "run", "--agent", "perf", "--first"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=_env(home),
        close_fds=True,
    )
    os.close(follower)
    seen = b""
    try:
        while b"you: " not in seen:
            ready, _, _ = select.select([leader], [], [], 30)
            if not ready:
                raise RuntimeError(f"memgpt run showed no prompt in 30 s: {seen[-300:]!r}")
            seen += os.read(leader, 65536)
        return time.perf_counter() - began
    finally:
        child.kill()
        child.wait()
        os.close(leader)


def server_start(home: str) -> float:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "memgpt.server",
        "--port",
        str(port),
        "--no-auth",
        "--database",
        f"{home}/server.db",
        "--model",
        INSTANT,
        "--embedding",
        "hash",
        "--log-level",
        "warning",
    ]
    began = time.perf_counter()
    server = subprocess.Popen(
        command, env=_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while time.perf_counter() - began < 60:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health/", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - began
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError("the server exited before answering") from None
                time.sleep(0.005)
        raise RuntimeError("the server did not answer within 60 s")
    finally:
        server.terminate()
        server.wait(10)


def cold_starts(runs: int) -> dict:
    with tempfile.TemporaryDirectory() as home:
        for start in (help_start, run_start, server_start):
            start(home)  # untimed: see the module docstring
        help_s = [help_start(home) for _ in range(runs)]
        run_s = [run_start(home) for _ in range(runs)]
        server_s = [server_start(home) for _ in range(runs)]
    return {
        "help_s": round(common.median(help_s), 3),
        "run_to_prompt_s": round(common.median(run_s), 3),
        "server_to_healthy_s": round(common.median(server_s), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="memgpt bench perf", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", default="1000,100000,1000000", help="messages of history, comma-separated"
    )
    parser.add_argument(
        "--steps", type=int, default=50, help="agent steps (and compilations) timed per size"
    )
    parser.add_argument("--searches", type=int, default=50, help="recall searches timed per size")
    parser.add_argument("--runs", type=int, default=5, help="cold starts of each kind")
    parser.add_argument(
        "--embedding",
        default="hash",
        help="the agent's embedder: hash (default: the framework's cost alone), local or openai",
    )
    parser.add_argument("--workdir", help="where the databases go (default: a temp dir)")
    parser.add_argument(
        "--keep-history",
        metavar="DIR",
        help="keep each size's SQLite database in DIR and reuse it when a run finds it "
        "there, so a large history is built once (each run adds its steps' messages)",
    )
    parser.add_argument(
        "--postgres",
        nargs="?",
        const="",
        metavar="URI",
        help="build the histories in PostgreSQL (a new schema per size, dropped after) at "
        "URI, or in a throwaway server when no URI is given",
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(
            json.dumps(
                run_size(
                    args.child,
                    args.steps,
                    args.searches,
                    args.database,
                    args.postgres is not None,
                    args.embedding,
                )
            )
        )
        return 0
    if args.keep_history and args.postgres is not None:
        parser.error("--keep-history keeps SQLite files; leave it out with --postgres.")
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    server = None if args.postgres is None else common.postgres_target(args.postgres)
    results = []
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="memgpt-perf-") as tmp:
        for n in sizes:
            if server:
                database = common.fresh_schema(server)
            elif args.keep_history:
                Path(args.keep_history).mkdir(parents=True, exist_ok=True)
                # Named by embedder too: a history's vectors are its embedder's.
                database = f"{args.keep_history}/perf-{n}-{args.embedding}.db"
            else:
                database = f"{tmp}/perf-{n}.db"
            child = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "memgpt.bench.perf",
                    "--child",
                    str(n),
                    "--steps",
                    str(args.steps),
                    "--searches",
                    str(args.searches),
                    "--database",
                    database,
                    "--embedding",
                    args.embedding,
                    *(["--postgres"] if server else []),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            results.append(json.loads(child.stdout.strip().splitlines()[-1]))
            if server:
                common.drop_schema(database)
            for path in Path(tmp).glob(f"perf-{n}.db*"):
                subprocess.run(["rm", "-rf", str(path)], check=True)
    result = {
        "benchmark": "perf",
        "backend": "postgres" if server else "sqlite",
        "cpus": os.cpu_count(),
        "history": results,
        "cold_start": cold_starts(args.runs),
        "targets": TARGETS,
    }
    rows = [
        (
            r["messages"],
            r["step_ms"],
            r["step_cpu_ms"],
            r["compile_ms"],
            r["recall_search_ms"],
            r["recall_hybrid_ms"],
            r["embed_message_ms"],
            r["peak_rss_mb"],
            r["build_s"],
        )
        for r in results
    ]
    common.emit(
        result,
        rows,
        [
            "messages",
            "step_ms",
            "step_cpu_ms",
            "compile_ms",
            "search_ms",
            "hybrid_ms",
            "embed_ms",
            "rss_mb",
            "build_s",
        ],
    )
    print(" ".join(f"{k}={v}" for k, v in result["cold_start"].items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
