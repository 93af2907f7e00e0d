"""Several server processes on one database (either backend): a starting server fails
the unfinished runs of processes that are gone, never those of live ones."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from memgpt.client import MemGPT
from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.scripted import ScriptedLLM
from memgpt.schemas import EmbeddingConfig
from memgpt.store.base import Run

CHILD = Path(__file__).with_name("run_owner_child.py")
ROOT = Path(__file__).parents[2]


def start_child(backend: str, target: str, agent_id: str) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    child = subprocess.Popen(
        [sys.executable, str(CHILD), backend, target, agent_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    ready, run_id = child.stdout.readline().split()
    assert ready == "READY", child.stderr.read()
    return child, run_id


def test_a_start_fails_only_the_runs_whose_process_is_gone(open_store, backend):
    store = open_store()
    agent = MemGPT(store=store).create_agent(
        "busy",
        llm=ScriptedLLM([]),
        embedding=EmbeddingConfig(provider="hash"),
        embedder=HashEmbedder(),
    )
    live = open_store()  # another server, in this process, working on a run
    ours = Run(agent_id=agent.id, status="running", owner=live.runs_owner())
    live.create_run(ours)
    legacy = Run(agent_id=agent.id, status="created")  # written before runs had owners
    store.create_run(legacy)
    target = str(store.path) if backend == "sqlite" else store.uri
    child, theirs = start_child(backend, target, agent.id)
    try:
        assert open_store().fail_orphaned_runs() == 1  # a server starting: the legacy run
        status = {r: store.get_run(r).status for r in (ours.id, theirs, legacy.id)}
        assert status == {ours.id: "running", theirs: "running", legacy.id: "failed"}
    finally:
        child.kill()
        child.wait()
    starting = open_store()
    for _ in range(100):  # PostgreSQL ends the killed process's session in a moment
        if starting.fail_orphaned_runs():
            break
        time.sleep(0.05)
    assert store.get_run(theirs).status == "failed"
    assert store.get_run(theirs).stop_reason == "error"
    assert store.get_run(ours.id).status == "running"
    live.close()  # a server stopping cleanly lets its lease go: its runs are orphans now
    assert open_store().fail_orphaned_runs() == 1
    assert store.get_run(ours.id).status == "failed"
