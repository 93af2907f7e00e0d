"""`memgpt bench reliability PART` prints its figures as JSON and fails on a violation."""

from __future__ import annotations

import json

from click.testing import CliRunner

from memgpt.cli.bench import bench


def test_bench_reliability_prints_json_figures():
    result = CliRunner().invoke(bench, ["reliability", "upgrade"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["ok"] is True and figures["full"] is False
    assert figures["upgrade"]["violations"] == 0
