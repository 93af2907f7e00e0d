"""Cold start: `memgpt run` and `memgpt server` do not import what only some commands use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("module", ["memgpt.cli.session", "memgpt.server.app"])
@pytest.mark.parametrize("heavy", ["pypdf"])  # only loading a PDF needs it
def test_starting_does_not_import(module: str, heavy: str) -> None:
    code = f"import sys, {module}; print({heavy!r} in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
