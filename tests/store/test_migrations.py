"""The one migration history: named steps, each dialect's version counting its own steps."""

from __future__ import annotations

from datetime import UTC, datetime

from memgpt.agent import events
from memgpt.agent.context import to_chat
from memgpt.schemas import AgentState
from memgpt.store.migrations import STEPS, scripts

# The messages table's columns before events kept their memory statistics.
OLD_MESSAGE_COLUMNS = (
    "id, agent_id, seq, role, event, text, tool_calls, tool_call_id, name, created_at, in_context"
)


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


def test_messages_stored_before_kept_statistics_still_load(open_store, monkeypatch):
    from memgpt.store import migrations

    names = [s.name for s in STEPS]
    monkeypatch.setattr(
        migrations, "STEPS", STEPS[: names.index("memory statistics kept with each event")]
    )
    old = open_store()
    agent = AgentState(name="a", system="s", blocks=[])
    old.create_agent(agent)
    when = datetime(2024, 1, 1, tzinfo=UTC)
    with old.transaction():  # written as that schema's code did
        for seq in (1, 2):
            old._run(
                f"INSERT INTO messages ({OLD_MESSAGE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (f"m{seq}", agent.id, seq, "user", "user_message", f"said {seq}", old._json([]),
                 None, None, old._ts(when), True),
            )  # fmt: skip
    old.close()
    monkeypatch.undo()

    new = open_store()
    loaded = new.context_messages(agent.id)
    assert [(m.text, m.memory_statistics) for m in loaded] == [("said 1", None), ("said 2", None)]
    # Shown as they always were: statistics come only with the newest packet.
    assert "memory_statistics" not in to_chat(loaded[0]).content
    kept = events.user_message("said 3")
    kept.memory_statistics = "3 messages in recall storage"
    new.append_messages(agent.id, [kept])
    assert new.context_messages(agent.id)[-1].memory_statistics == "3 messages in recall storage"
