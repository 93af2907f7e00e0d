"""`memgpt bench` passes its arguments to the benchmark module and prints its JSON."""

from __future__ import annotations

import json
import subprocess
import sys


def test_bench_embed_prints_json(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "memgpt.cli",
            "bench",
            "embed",
            "--provider",
            "hash",
            "--sentences",
            "64",
            "--runs",
            "2",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={"MEMGPT_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    ).stdout
    result = json.loads(out)
    assert result["sentences_per_s_median"] > 0
    assert result["backend"]
