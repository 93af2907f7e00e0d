"""Test processes sharing one database: the child side opens it; the parent side starts
the children, lets them go at once, and waits for each to finish cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from memgpt.client import MemGPT


def client_for(backend: str, target: str) -> MemGPT:
    """The child's client: sqlite (`target` a file) or postgres (a connection string)."""
    if backend == "sqlite":
        return MemGPT(target)
    from memgpt.store.dialects.postgres import PostgresStore

    return MemGPT(store=PostgresStore(target))


def run_together(script: Path, argvs: list[list[str]], timeout: float = 120) -> None:
    """Run `script` once per argument list; each prints READY, then waits for a line on
    stdin, which all of them get at once."""
    root = Path(__file__).parents[2]  # the children import memgpt and these helpers
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}
    children = [
        subprocess.Popen(
            [sys.executable, str(script), *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for argv in argvs
    ]
    for child in children:
        assert child.stdout.readline().strip() == "READY", child.stderr.read()
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    for child in children:
        _, err = child.communicate(timeout=timeout)
        assert child.returncode == 0, err
