"""The one migration history: named steps, each dialect's version counting its own steps."""

from __future__ import annotations

from memgpt.store.migrations import STEPS


def test_versions_read_as_every_earlier_release_recorded_them():
    # SQLite's user_version went 1..6 and PostgreSQL's schema_version 1..3 before the two
    # histories became one: the same databases must still read as those versions, whatever
    # steps come after them.
    sqlite_steps = [s.name for s in STEPS if s.sqlite]
    assert sqlite_steps[:6] == [s.name for s in STEPS[:6]]
    postgres_steps = [s.name for s in STEPS if s.postgres]
    assert postgres_steps[:3] == ["first schema", "server accounts", "server document sources"]


def test_steps_shared_by_both_dialects_differ_only_in_column_types():
    for step in STEPS:
        # Shared blocks' new ids come from each dialect's own random function.
        if step.sqlite and step.postgres and step.name not in ("first schema", "shared blocks"):
            words = step.sqlite.split(), step.postgres.split()
            assert len(words[0]) == len(words[1])
            assert {a for a, b in zip(*words, strict=True) if a != b} <= {
                "TEXT",
                "INTEGER",
            }
