"""Crash safety: SIGKILL a process at random moments, restart it, and check nothing was lost.

Three workloads run in child processes (`python -m memgpt.bench.reliability_crash MODE ...`):

- steps: each turn the agent rewrites its `counter` block, saves a note to archival memory
  and answers; a turn is acknowledged (printed) only after `send` returns.
- evict: the same turns in a window so small that most turns evict half the queue into
  the recursive summary (the summarizer is slowed, so kills land inside it too).
- load: a folder of documents is loaded into a source, resuming after each kill.

After every kill the parent opens the database and checks: `PRAGMA integrity_check`; every
acknowledged turn stored exactly once and turns without gaps; the counter block equal to
the last stored turn (a step's message and memory edit land together); one archival note
per stored insert call, no orphan; every call with its result; eviction only ever a prefix
of the history, cut before an event; per-agent counts equal to the rows; each loaded file
wholly in or out with its passages unique. At the end the agent must answer a new message,
and the resumed load must hold exactly what an uninterrupted load holds.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from memgpt.client import MemGPT
from memgpt.embeddings.hash import HashEmbedder
from memgpt.ingest.pipeline import LoadSettings, load_into_source
from memgpt.llm.base import ChatMessage, FunctionSchema, LLMReply
from memgpt.llm.scripted import ScriptedLLM, call, default_summary
from memgpt.schemas import Block, EmbeddingConfig, Message
from memgpt.store.base import Source
from memgpt.store.dialects.sqlite import SQLiteStore

AGENT = "crash"
WINDOWS = {"steps": 8192, "evict": 6000}
FILLER = "the hikers crossed the river near the old mill before the storm " * 12
LOAD_SETTINGS = LoadSettings(batch_size=4, max_tokens=24, overlap_tokens=4)
DOCS = 30


# --- the child processes ---


def _turn_of(messages: list[ChatMessage]) -> tuple[int, list[ChatMessage]]:
    """The turn number of the newest user message, and the messages after it."""
    start = max(
        i
        for i, m in enumerate(messages)
        if m.role == "user" and json.loads(m.content)["type"] == "user_message"
    )
    return int(json.loads(messages[start].content)["message"].split()[1]), messages[start + 1 :]


def policy(messages: list[ChatMessage], functions: list[FunctionSchema]) -> LLMReply:
    time.sleep(random.random() * 0.004)  # widen the windows a kill can land in
    turn, since = _turn_of(messages)
    done = [c.name for m in since for c in m.tool_calls]
    if "core_memory_replace" not in done:
        return call(
            "core_memory_replace",
            label="counter",
            old_content=f"turn {turn - 1}",
            new_content=f"turn {turn}",
            request_heartbeat=True,
        )
    if "archival_memory_insert" not in done:
        return call("archival_memory_insert", content=f"note {turn}", request_heartbeat=True)
    if "send_message" in done:  # a memory-pressure alert after the answer: end the chain
        return call("conversation_search", query=f"msg {turn}")
    return call("send_message", message=f"ack {turn}")


def slow_summary(messages: list[ChatMessage]) -> str:
    time.sleep(random.random() * 0.02)  # a real summarizer call takes a while: kills land in it
    return default_summary(messages)


def open_agent(db: Path, mode: str):
    client = MemGPT(db)
    llm = ScriptedLLM(policy, context_window=WINDOWS[mode], summarize=slow_summary)
    kwargs: dict[str, Any] = {"llm": llm, "embedder": HashEmbedder()}
    if client.store.get_agent(AGENT) is None:
        client.create_agent(
            AGENT,
            blocks=[Block(label="counter", value="turn -1", limit=200)],
            embedding=EmbeddingConfig(provider="hash"),
            **kwargs,
        )
    return client, client.get_agent(AGENT, **kwargs)


def converse(db: Path, mode: str) -> None:
    _, agent = open_agent(db, mode)
    stored = agent.store.list_messages(agent.id, limit=10**7)
    done = sum(1 for m in stored if m.event == "user_message")
    filler = FILLER if mode == "evict" else ""
    print("READY", flush=True)
    for turn in range(done, done + 100_000):
        response = agent.send(f"msg {turn} {filler}")
        assert response.text == f"ack {turn}", response
        print(f"ACK {turn}", flush=True)


class SlowEmbedder(HashEmbedder):
    def embed(self, texts):  # type: ignore[no-untyped-def]
        time.sleep(0.01)  # widen the window a kill lands in
        return super().embed(texts)


def load(db: Path, folder: Path, source: str) -> None:
    store = SQLiteStore(db)
    found = store.get_source(source)
    print("READY", flush=True)
    load_into_source(store, SlowEmbedder(), found, folder, LOAD_SETTINGS)
    print("DONE", flush=True)


# --- the parent: kill, restart, check ---


def run_until_killed(argv: list[str], rng: random.Random, max_wait: float) -> tuple[list[str], str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, "-m", "memgpt.bench.reliability_crash", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    ready = child.stdout.readline().strip()
    if ready != "READY":
        child.kill()
        return [], "child did not start: " + (child.communicate()[1] or ready)[-500:]
    time.sleep(rng.uniform(0.02, max_wait))
    child.send_signal(signal.SIGKILL)
    out, err = child.communicate()
    return out.splitlines(), err if "Traceback" in err else ""


def check_agent(db: Path, acknowledged: set[int]) -> list[str]:
    store = SQLiteStore(db)
    problems = []
    try:
        if store.integrity_check() != "ok":
            problems.append("integrity_check failed")
        state = store.get_agent(AGENT)
        if state is None:
            return problems
        messages = store.list_messages(state.id, limit=10**7)
        turns = [int(m.text.split()[1]) for m in messages if m.event == "user_message"]
        if len(turns) != len(set(turns)):
            problems.append("a user message was stored twice")
        if turns != list(range(len(turns))):
            problems.append(f"turns out of order or with gaps: {turns[-5:]}")
        if not acknowledged <= set(turns):
            problems.append(f"acknowledged turns lost: {sorted(acknowledged - set(turns))[:5]}")
        problems += _check_memory(state.block("counter").value, messages, turns)
        problems += _check_notes(store, state.id, messages)
        problems += check_queue(messages)
        if store.count_messages(state.id) != len(messages):
            problems.append("the message count disagrees with the rows")
    finally:
        store.close()
    return problems


def _check_memory(counter: str, messages: list[Message], turns: list[int]) -> list[str]:
    # The user message and the edit of its first step commit together.
    expected = f"turn {turns[-1] if turns else -1}"
    edits = [m for m in messages if any(c.name == "core_memory_replace" for c in m.tool_calls)]
    failed = [
        m
        for m in messages
        if m.role == "tool" and m.name == "core_memory_replace" and '"Failed"' in m.text
    ]
    problems = []
    if counter != expected:
        problems.append(f"counter block {counter!r} but the last stored turn says {expected!r}")
    if len(edits) != len(turns) or failed:
        problems.append("a memory edit is missing, repeated or failed")
    return problems


def _check_notes(store: SQLiteStore, agent_id: str, messages: list[Message]) -> list[str]:
    notes = [p.text for p in store.list_passages(agent_id, limit=10**7)]
    calls = [
        json.loads(c.arguments)["content"]
        for m in messages
        for c in m.tool_calls
        if c.name == "archival_memory_insert"
    ]
    if sorted(notes) != sorted(calls):
        orphans = sorted(set(notes) - set(calls))[:3]
        return [f"archival notes differ from the committed insert calls (orphans: {orphans})"]
    if store.count_passages(agent_id) != len(notes):
        return ["the passage count disagrees with the rows"]
    return []


def check_queue(messages: list[Message]) -> list[str]:
    problems = []
    flags = [m.in_context for m in messages]
    if flags != sorted(flags):  # False (evicted) first, then True
        problems.append("eviction is not a prefix of the history")
    queue = [m for m in messages if m.in_context]
    if queue and queue[0].role != "user":
        problems.append("the queue does not start at an event")
    calls = {c.id for m in messages for c in m.tool_calls}
    results = {m.tool_call_id for m in messages if m.role == "tool"}
    if calls != results:
        problems.append("a function call without its result, or the reverse")
    return problems


def continue_conversation(db: Path, mode: str) -> list[str]:
    client, agent = open_agent(db, mode)
    try:
        turn = sum(
            1 for m in agent.store.list_messages(agent.id, limit=10**7) if m.event == "user_message"
        )
        response = agent.send(f"msg {turn} after the last restart")
        return [] if response.text == f"ack {turn}" else [f"the agent did not continue: {response}"]
    finally:
        client.close()


def crash_conversation(mode: str, kills: int, rng: random.Random, root: Path) -> dict[str, Any]:
    db = root / f"{mode}.db"
    acknowledged: set[int] = set()
    violations: list[str] = []
    for _ in range(kills):
        lines, error = run_until_killed([mode, str(db)], rng, max_wait=0.5)
        if error:
            violations.append(error[-500:])
        acknowledged |= {int(line.split()[1]) for line in lines if line.startswith("ACK")}
        violations += check_agent(db, acknowledged)
    violations += continue_conversation(db, mode)
    violations += check_agent(db, acknowledged)
    store = SQLiteStore(db)
    state = store.get_agent(AGENT)
    evicted = (
        sum(not m.in_context for m in store.list_messages(state.id, limit=10**7)) if state else 0
    )
    store.close()
    return {
        "kills": kills,
        "acknowledged": len(acknowledged),
        "evicted_messages": evicted,
        "violations": violations,
    }


def make_docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(DOCS):
        text = " ".join(
            f"File {i} sentence {j} tells about topic {i * 100 + j}." for j in range(12)
        )
        (folder / f"doc{i:03}.txt").write_text(text)
    return folder


def _new_source(store: SQLiteStore, name: str) -> Source:
    source = Source(name=name, embedding=EmbeddingConfig(provider="hash"))
    store.create_source(source)
    return source


def check_source(db: Path, name: str) -> list[str]:
    store = SQLiteStore(db)
    problems = []
    try:
        if store.integrity_check() != "ok":
            problems.append("integrity_check failed")
        source = store.get_source(name)
        assert source is not None
        for f in store.list_files(source.id):
            n = store._execute("SELECT COUNT(*) FROM passages p JOIN source_files f ON f.pk = p.file_pk"
                               " WHERE f.path = ? AND f.source_id = ?", (f.path, source.id)).fetchone()[0]  # fmt: skip
            if not n == f.passages > 0:
                problems.append(f"half-inserted file {f.path}: {n} of {f.passages} passages")
        hashes = [
            r[0]
            for r in store._execute(
                "SELECT chunk_hash FROM passages WHERE source_id = ?", (source.id,)
            )
        ]
        if len(hashes) != len(set(hashes)):
            problems.append("a passage was stored twice")
    finally:
        store.close()
    return problems


def chunk_hashes(db: Path, name: str) -> list[str]:
    store = SQLiteStore(db)
    source = store.get_source(name)
    assert source is not None
    rows = store._execute("SELECT chunk_hash FROM passages WHERE source_id = ?", (source.id,))
    hashes = sorted(r[0] for r in rows)
    store.close()
    return hashes


def crash_load(kills: int, rng: random.Random, root: Path) -> dict[str, Any]:
    db, folder = root / "load.db", make_docs(root / "docs")
    clean = root / "clean.db"
    store = SQLiteStore(clean)
    load_into_source(store, HashEmbedder(), _new_source(store, "clean"), folder, LOAD_SETTINGS)
    store.close()
    expected = chunk_hashes(clean, "clean")
    violations: list[str] = []
    rounds, name = 0, ""
    for _ in range(kills):
        if not name:  # a fresh source each time a load has run to the end
            rounds += 1
            name = f"docs{rounds}"
            store = SQLiteStore(db)
            _new_source(store, name)
            store.close()
        lines, error = run_until_killed(["load", str(db), str(folder), name], rng, max_wait=0.4)
        if error:
            violations.append(error[-500:])
        violations += check_source(db, name)
        if "DONE" in lines:
            if chunk_hashes(db, name) != expected:
                violations.append(f"source {name} differs from an uninterrupted load")
            name = ""
    if name:  # finish the last load in-process and compare
        store = SQLiteStore(db)
        load_into_source(store, HashEmbedder(), store.get_source(name), folder, LOAD_SETTINGS)
        store.close()
        violations += check_source(db, name)
        if chunk_hashes(db, name) != expected:
            violations.append(f"source {name} differs from an uninterrupted load")
    return {"kills": kills, "loads_completed": rounds, "violations": violations}


def run(kills: int, seed: int = 0, workdir: Path | None = None) -> dict[str, Any]:
    """Spread `kills` over the three workloads (run side by side, each on its own database)."""
    share = {"steps": kills * 2 // 5, "evict": kills * 2 // 5}
    share["load"] = kills - share["steps"] - share["evict"]
    with tempfile.TemporaryDirectory() as tmp:
        root = workdir or Path(tmp)
        jobs: dict[str, Callable[[], dict[str, Any]]] = {
            "steps": lambda: crash_conversation("steps", share["steps"], random.Random(seed), root),
            "evict": lambda: crash_conversation(
                "evict", share["evict"], random.Random(seed + 1), root
            ),
            "load": lambda: crash_load(share["load"], random.Random(seed + 2), root),
        }
        with ThreadPoolExecutor(len(jobs)) as pool:
            futures = {name: pool.submit(job) for name, job in jobs.items()}
            parts = {name: future.result() for name, future in futures.items()}
    violations = [v for part in parts.values() for v in part["violations"]]
    return {
        "kills": sum(p["kills"] for p in parts.values()),
        "violations": len(violations),
        "violation_examples": violations[:5],
        "parts": {
            name: {k: v for k, v in p.items() if k != "violations"}
            | {"violations": len(p["violations"])}
            for name, p in parts.items()
        },  # fmt: skip
    }


def main(argv: list[str]) -> None:
    mode = argv[0]
    if mode == "load":
        load(Path(argv[1]), Path(argv[2]), argv[3])
    else:
        converse(Path(argv[1]), mode)


if __name__ == "__main__":
    main(sys.argv[1:])
