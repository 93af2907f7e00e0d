"""Invariant 6 across processes: two processes stepping one agent (on either backend)
take turns event by event; neither loses the other's memory edits."""

from __future__ import annotations

import itertools
from pathlib import Path

from memgpt.client import MemGPT
from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.scripted import ScriptedLLM
from memgpt.schemas import Block, EmbeddingConfig
from tests.store.processes import run_together

CHILD = Path(__file__).with_name("agent_lock_child.py")
EVENTS = 6


def test_two_processes_never_interleave_an_agents_steps(open_store, backend, tmp_path):
    store = open_store()
    MemGPT(store=store).create_agent(
        "shared",
        llm=ScriptedLLM([]),
        embedding=EmbeddingConfig(provider="hash"),
        embedder=HashEmbedder(),
        blocks=[Block(label="facts", value="", limit=100_000)],
    )
    target = str(store.path) if backend == "sqlite" else store.uri
    log = tmp_path / "steps.log"
    run_together(CHILD, [[backend, target, str(log), tag, str(EVENTS)] for tag in ("A", "B")])

    lines = log.read_text().splitlines()
    # Runs of lines per event: each event's LLM calls are contiguous, opened by its "in"
    # (a memory-pressure alert may add a second "out").
    runs = [
        list(run) for _, run in itertools.groupby(lines, key=lambda line: line[line.index(" ") :])
    ]
    assert len(runs) == 2 * EVENTS, lines
    for run in runs:
        assert run[0].startswith("in ") and all(line.startswith("out ") for line in run[1:]), lines
    assert {line[-3] for line in lines} == {"A", "B"}

    state = store.get_agent("shared")
    facts = state.block("facts").value.splitlines()
    assert sorted(facts) == sorted(f"{t} {i}" for t in "AB" for i in range(EVENTS))  # none lost
    events = [m.text for m in store.list_messages(state.id, limit=1000) if m.role == "user"]
    assert len(events) >= 4 * EVENTS  # each event and its heartbeat (and alerts), in turn
