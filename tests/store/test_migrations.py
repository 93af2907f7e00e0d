"""The one migration history: named steps, each dialect's version counting its own steps."""

from __future__ import annotations

from memgpt.store.migrations import STEPS, scripts


def test_versions_read_as_every_earlier_release_recorded_them():
    # SQLite's user_version went 1..6 and PostgreSQL's schema_version 1..3 before the two
    # histories became one: the same databases must still read as those versions.
    # Later steps are appended after these six (their number is no test's business).
    released = STEPS[:6]
    assert [s.name for s in released if s.sqlite] == [s.name for s in released]
    assert [s.name for s in released if s.postgres] == [
        "first schema",
        "server accounts",
        "server document sources",
    ]
    assert scripts("sqlite")[:6] == [s.sqlite for s in released]
    assert scripts("postgres")[:3] == [s.postgres for s in released if s.postgres]


def test_steps_shared_by_both_dialects_differ_only_in_column_types():
    for step in STEPS:
        # Shared blocks' new ids come from each dialect's own random function; timed
        # agents are found in their JSON state, read as each dialect reads JSON; message
        # vectors need a never-reused key on SQLite (usearch's) and inline storage on
        # PostgreSQL (as passages').
        different = (
            "first schema",
            "shared blocks",
            "timed agents",
            "message vectors for semantic recall",
        )
        if step.sqlite and step.postgres and step.name not in different:
            words = step.sqlite.split(), step.postgres.split()
            assert len(words[0]) == len(words[1])
            assert {a for a, b in zip(*words, strict=True) if a != b} <= {
                "TEXT",
                "INTEGER",
            }
