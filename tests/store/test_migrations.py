"""The one migration history: named steps, each dialect's version counting its own steps."""

from __future__ import annotations

from memgpt.store.migrations import STEPS


def test_versions_read_as_every_earlier_release_recorded_them():
    # SQLite's user_version went 1..6 and PostgreSQL's schema_version 1..3 before the two
    # histories became one: the same databases must still read as those versions. Steps
    # appended since have statements for both dialects.
    assert [s.name for s in STEPS if s.sqlite] == [s.name for s in STEPS]
    assert [s.name for s in STEPS if s.postgres][:3] == [
        "first schema",
        "server accounts",
        "server document sources",
    ]
    assert all(s.postgres for s in STEPS[6:])
    assert [s.name for s in STEPS].index("archival full text in tantivy") == 5


def test_steps_shared_by_both_dialects_differ_only_in_column_types():
    for step in STEPS:
        if step.sqlite and step.postgres and step.name != "first schema":
            words = step.sqlite.split(), step.postgres.split()
            assert len(words[0]) == len(words[1])
            assert {a for a, b in zip(*words, strict=True) if a != b} <= {
                "TEXT",
                "INTEGER",
            }
