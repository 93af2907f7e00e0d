"""A database written with the oldest schema opens with the newest code, intact, on each backend."""

from __future__ import annotations

import pytest

from memgpt.bench import reliability_upgrade
from memgpt.store.migrations import scripts
from tests.store.backends import REQUIRED


def test_oldest_schema_upgrades_with_everything_intact():
    figures = reliability_upgrade.run(agents=3, messages=60, passages=20, seed=5)
    assert figures["violations"] == 0, figures["violation_examples"]
    assert figures["from_schema"] == 1
    assert figures["to_schema"] == len(scripts("sqlite"))
    assert (figures["messages"], figures["passages"]) == (180, 60)
    postgres = figures["postgres"]
    if "skipped" in postgres and not REQUIRED:
        pytest.skip(postgres["skipped"])
    assert postgres["violations"] == 0, postgres["violation_examples"]
    assert (postgres["from_schema"], postgres["to_schema"]) == (1, len(scripts("postgres")))
