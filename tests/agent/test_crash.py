"""Invariant 2: a process killed at any point loses no acknowledged message and leaves
no memory edit half-applied; the agent continues after a restart."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from memgpt.store.dialects.sqlite import SQLiteStore

CHILD = Path(__file__).with_name("crash_child.py")
KILLS = int(os.environ.get("MEMGPT_CRASH_KILLS", "12"))


def run_until_killed(db: Path, rng: random.Random) -> set[int]:
    """Start the child, kill it with SIGKILL at a random moment, return the turns it acknowledged."""
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "READY", child.stderr.read()
    time.sleep(rng.uniform(0.05, 0.6))
    child.send_signal(signal.SIGKILL)
    out, err = child.communicate()
    assert "Traceback" not in err, err
    return {int(line.split()[1]) for line in out.splitlines() if line.startswith("ACK")}


def test_sigkill_at_random_points_loses_nothing_acknowledged(tmp_path):
    db = tmp_path / "crash.db"
    rng = random.Random(1234)
    acknowledged: set[int] = set()
    for _ in range(KILLS):
        acknowledged |= run_until_killed(db, rng)

        store = SQLiteStore(db)
        assert store.integrity_check() == "ok"
        state = store.get_agent("crash")
        messages = store.list_messages(state.id, limit=10**6)
        turns = [int(m.text.split()[1]) for m in messages if m.event == "user_message"]
        facts = [int(line.split()[1]) for line in state.block("facts").value.splitlines()]
        assert len(turns) == len(set(turns)), "a message was stored twice"
        assert acknowledged <= set(turns), "an acknowledged message was lost"
        # a step is atomic: the user message and the memory edit it caused land together
        assert facts == turns
        # every stored call has its result: nothing half-written
        calls = {c.id for m in messages for c in m.tool_calls}
        results = {m.tool_call_id for m in messages if m.role == "tool"}
        assert calls == results
        store.close()
    assert len(acknowledged) > KILLS, "the agent kept making progress across restarts"
