"""A database written with the oldest schema opens with the newest code, intact."""

from __future__ import annotations

from memgpt.bench import reliability_upgrade
from memgpt.store.migrations import scripts


def test_oldest_schema_upgrades_with_everything_intact():
    figures = reliability_upgrade.run(agents=3, messages=60, passages=20, seed=5)
    assert figures["violations"] == 0, figures["violation_examples"]
    assert figures["from_schema"] == 1
    assert figures["to_schema"] == len(scripts("sqlite"))
    assert (figures["messages"], figures["passages"]) == (180, 60)
