"""Upgrades: a database made with the oldest schema opens with the newest code, intact.

On each backend (SQLite, and PostgreSQL on a throwaway server when its support is
installed) the old database is written the way the first release wrote it: migration 1
only, rows inserted with that schema's columns (agents, blocks, block edits, messages with their
full-text rows, passages with vectors and full-text rows). The newest code then opens it,
which applies every later migration, and must find each agent, block, edit, message and
passage unchanged and counted right, find them by search, and let every agent go on
talking, its new messages numbered after the old ones.
"""

from __future__ import annotations

import json
import random
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from memgpt.agent import events
from memgpt.agent.prompts import SYSTEM_INSTRUCTIONS
from memgpt.bench.common import throwaway_postgres
from memgpt.client import MemGPT
from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.scripted import ScriptedLLM, call
from memgpt.schemas import (
    AgentState,
    Block,
    EmbeddingConfig,
    LLMConfig,
    Message,
    Passage,
    StopReason,
    ToolCall,
)
from memgpt.store import Store
from memgpt.store.dialects.sqlite import SQLiteStore, ts
from memgpt.store.migrations import migrate_sqlite, scripts
from memgpt.store.sql.store import searchable_text


def _old_history(agents: int, messages: int, passages: int, seed: int) -> dict[str, Any]:
    """What the old database holds, by agent id: state, messages (numbered) and passages."""
    rng = random.Random(seed)
    expected: dict[str, Any] = {}
    for a in range(agents):
        state = AgentState(
            name=f"old-{a}",
            system=SYSTEM_INSTRUCTIONS,
            blocks=[
                Block(label="persona", value=f"persona {a}"),
                Block(label="human", value=f"human {a} ✓"),
            ],
            llm=LLMConfig(provider="scripted", model="scripted", context_window=8192),
            embedding=EmbeddingConfig(provider="hash"),
            summary=f"summary of agent {a}",
        )
        history = _conversation(messages, a, rng)
        for seq, m in enumerate(history, start=1):
            m.agent_id, m.seq, m.in_context = state.id, seq, seq > messages // 2
        notes = [Passage(text=f"agent {a} remembers fact a{a}f{j} about {rng.choice(['tea', 'rivers', 'hills'])}")
                 for j in range(passages)]  # fmt: skip
        expected[state.id] = {"state": state, "messages": history, "passages": notes}
    return expected


def _old_sqlite(path: Path, expected: dict[str, Any]) -> None:
    """Write a SQLite database as the first release did: migration 1, its columns."""
    embedder = HashEmbedder()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for statement in scripts("sqlite")[0].split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    pk = 0
    for old in expected.values():
        state = old["state"]
        conn.execute(
            "INSERT INTO agents (id, name, state, created_at) VALUES (?, ?, ?, ?)",
            (state.id, state.name, state.model_dump_json(exclude={"blocks"}), ts(state.created_at)),
        )
        for i, b in enumerate(state.blocks):
            conn.execute(
                "INSERT INTO blocks (agent_id, label, value, char_limit, description, position) VALUES (?,?,?,?,?,?)",
                (state.id, b.label, b.value, b.limit, b.description, i),
            )
        human = state.block("human").value
        conn.execute(
            "INSERT INTO block_edits (agent_id, label, old_value, new_value, actor, created_at) VALUES (?,?,?,?,?,?)",
            (state.id, "human", human.removesuffix(" ✓"), human, "agent", ts(state.created_at)),
        )
        for m in old["messages"]:
            pk += 1
            conn.execute(
                "INSERT INTO messages (pk, id, agent_id, seq, role, event, text, tool_calls, tool_call_id,"
                " name, created_at, in_context) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (pk, m.id, state.id, m.seq, m.role, m.event, m.text,
                 json.dumps([c.model_dump() for c in m.tool_calls]), m.tool_call_id, m.name,
                 ts(m.created_at), int(m.in_context)),
            )  # fmt: skip
            if body := searchable_text(m):
                conn.execute("INSERT INTO messages_fts (rowid, body) VALUES (?, ?)", (pk, body))
        for j, p in enumerate(old["passages"]):
            vector = embedder.embed([p.text])[0].astype(np.float32)
            row = conn.execute(
                "INSERT INTO passages (id, agent_id, text, embedding, source, metadata, created_at)"
                " VALUES (?,?,?,?,?,?,?)",
                (p.id, state.id, p.text, vector.tobytes(), None, json.dumps({"n": j}), ts(p.created_at)),
            )  # fmt: skip
            conn.execute(
                "INSERT INTO passages_fts (rowid, text) VALUES (?, ?)", (row.lastrowid, p.text)
            )
    conn.execute("COMMIT")
    conn.close()


def _old_postgres(uri: str, expected: dict[str, Any]) -> None:
    """Write a PostgreSQL database as its first release did: migration 1, its columns."""
    import psycopg
    from pgvector.psycopg import register_vector
    from psycopg.types.json import Jsonb

    embedder = HashEmbedder()
    with psycopg.connect(uri, autocommit=True) as conn, conn.transaction():
        conn.execute(scripts("postgres")[0])
        conn.execute("CREATE TABLE schema_version (version integer NOT NULL)")
        conn.execute("INSERT INTO schema_version (version) VALUES (1)")
        register_vector(conn)
        for old in expected.values():
            state = old["state"]
            conn.execute(
                "INSERT INTO agents (id, name, state, created_at) VALUES (%s, %s, %s, %s)",
                (state.id, state.name, Jsonb(state.model_dump(mode="json", exclude={"blocks"})),
                 state.created_at),
            )  # fmt: skip
            for i, b in enumerate(state.blocks):
                conn.execute(
                    "INSERT INTO blocks (agent_id, label, value, char_limit, description, position)"
                    " VALUES (%s, %s, %s, %s, %s, %s)",
                    (state.id, b.label, b.value, b.limit, b.description, i),
                )
            human = state.block("human").value
            conn.execute(
                "INSERT INTO block_edits (agent_id, label, old_value, new_value, actor, created_at)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (state.id, "human", human.removesuffix(" ✓"), human, "agent", state.created_at),
            )
            for m in old["messages"]:
                conn.execute(
                    "INSERT INTO messages (id, agent_id, seq, role, event, text, tool_calls,"
                    " tool_call_id, name, created_at, in_context, body) VALUES"
                    " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, to_tsvector('memgpt', %s))",
                    (m.id, state.id, m.seq, m.role, m.event, m.text,
                     Jsonb([c.model_dump() for c in m.tool_calls]), m.tool_call_id, m.name,
                     m.created_at, m.in_context, searchable_text(m)),
                )  # fmt: skip
            for j, p in enumerate(old["passages"]):
                conn.execute(
                    "INSERT INTO passages (id, agent_id, text, embedding, metadata, created_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s)",
                    (p.id, state.id, p.text, embedder.embed([p.text])[0].astype(np.float32),
                     Jsonb({"n": j}), p.created_at),
                )  # fmt: skip


def _conversation(n: int, a: int, rng: random.Random) -> list[Message]:
    """`n` messages in whole steps: an event, the agent's call, its result."""
    history: list[Message] = []
    turn = 0
    while len(history) < n:
        call_id = f"call-{a}-{turn}"
        history += [
            events.user_message(f"agent {a} turn {turn} word{rng.randint(0, 9)}"),
            Message(role="assistant", text=f"thinking {turn}", tool_calls=[
                ToolCall(id=call_id, name="send_message", arguments=json.dumps({"message": f"reply {turn}"}))]),
            Message(role="tool", text='{"status": "OK"}', tool_call_id=call_id, name="send_message"),
        ]  # fmt: skip
        turn += 1
    return history[: n - n % 3] if n >= 3 else history


def _replying(messages, functions):  # type: ignore[no-untyped-def]
    return call("send_message", "carrying on", message="still here")


def _vector_bytes(value: Any) -> bytes:
    """A stored vector's float32 bytes: SQLite's blob, or pgvector's Vector."""
    if isinstance(value, bytes | memoryview):
        return bytes(value)
    return value.to_numpy().astype(np.float32).tobytes()


def _compare(store: Store, expected: dict[str, Any]) -> list[str]:
    problems = []
    if len(store.list_agents()) != len(expected):
        problems.append(
            f"{len(store.list_agents())} agents after the upgrade, {len(expected)} before"
        )
    for agent_id, old in expected.items():
        state = store.get_agent(agent_id)
        if state is None:
            problems.append(f"agent {agent_id} lost")
            continue
        # Blocks got ids of their own in the upgrade: compare what they hold.
        held = [b.model_dump(exclude={"id"}) for b in state.blocks]
        if held != [b.model_dump(exclude={"id"}) for b in old["state"].blocks]:
            problems.append(f"agent {state.name}: blocks changed")
        if state.summary != old["state"].summary:
            problems.append(f"agent {state.name}: summary changed")
        history = [store.block_history(b.id) for b in state.blocks]
        if [[e.new_value for e in h] for h in history] != [[], [old["state"].block("human").value]]:
            problems.append(f"agent {state.name}: block history changed")
        got = store.list_messages(agent_id, limit=10**7)
        want = old["messages"]
        fields = (
            "id",
            "seq",
            "role",
            "event",
            "text",
            "tool_calls",
            "tool_call_id",
            "name",
            "in_context",
        )
        if [m.model_dump(include=set(fields)) for m in got] != [
            m.model_dump(include=set(fields)) for m in want
        ]:
            problems.append(f"agent {state.name}: messages changed")
        if store.count_messages(agent_id) != len(want):
            problems.append(
                f"agent {state.name}: message count {store.count_messages(agent_id)} != {len(want)}"
            )
        if [m.id for m in store.context_messages(agent_id)] != [m.id for m in want if m.in_context]:
            problems.append(f"agent {state.name}: the FIFO queue changed")
        passages = store.list_passages(agent_id, limit=10**7)
        if [(p.id, p.text, p.metadata) for p in passages] != [
            (p.id, p.text, {"n": i}) for i, p in enumerate(old["passages"])
        ]:
            problems.append(f"agent {state.name}: passages changed")
        vectors = store._execute(
            "SELECT embedding FROM passages WHERE agent_id = ? ORDER BY pk", (agent_id,)
        ).fetchall()
        embedder = HashEmbedder()
        if [_vector_bytes(v[0]) for v in vectors] != [
            embedder.embed([p.text])[0].astype(np.float32).tobytes() for p in old["passages"]
        ]:
            problems.append(f"agent {state.name}: passage vectors changed")
        if store.count_passages(agent_id) != len(old["passages"]):
            problems.append(f"agent {state.name}: passage count wrong")
        problems += _searches(store, agent_id, want, old["passages"])
    return problems


def _searches(
    store: Store, agent_id: str, messages: list[Message], passages: list[Passage]
) -> list[str]:
    problems = []
    if messages:
        found, _ = store.search_messages(agent_id, messages[0].text, limit=5)
        if messages[0].id not in {m.id for m in found}:
            problems.append("an old message is not found by recall search")
    if passages:
        target = passages[-1]
        # Text ranking alone: the vectors are compared byte for byte in _compare, and the
        # approximate index's recall is the archival benchmark's business, not an upgrade's.
        hits, _ = store.search_archival(agent_id, target.text, None, 5)
        if target.id not in {h.passage.id for h in hits}:
            problems.append("an old passage is not found by archival search")
    return problems


def _upgraded(store: Store, expected: dict[str, Any]) -> list[str]:
    """What the newest code on the upgraded `store` finds wrong, then as each agent goes on."""
    client = MemGPT(store=store)
    problems = _compare(store, expected)
    if isinstance(store, SQLiteStore) and store.integrity_check() != "ok":
        problems.append("integrity_check failed")
    for agent_id, old in expected.items():
        agent = client.get_agent(agent_id, llm=ScriptedLLM(_replying), embedder=HashEmbedder())
        response = agent.send("are you still there?")
        stored = store.list_messages(agent_id, limit=10**7)
        if (
            # A long old queue may bring memory-pressure alerts, each answered again.
            set(response.sent) != {"still here"}
            or response.stop_reason != StopReason.END_TURN
            or stored[-len(response.messages)].seq != len(old["messages"]) + 1
        ):
            problems.append(f"agent {agent.state.name} could not continue after the upgrade")
        if store.count_messages(agent_id) != len(old["messages"]) + len(response.messages):
            problems.append(f"agent {agent.state.name}: count wrong after continuing")
    client.close()
    return problems


def _postgres(expected: dict[str, Any]) -> dict[str, Any]:
    """The same from PostgreSQL's oldest schema, on a throwaway server."""
    try:
        import psycopg

        from memgpt.store.dialects.postgres import PostgresStore

        uri = throwaway_postgres()
    except ImportError as exc:
        return {"skipped": f"PostgreSQL support is not installed ({exc})"}
    _old_postgres(uri, expected)
    store = PostgresStore(uri)  # the newest code: every later migration runs here
    with psycopg.connect(uri) as conn:
        to_version = conn.execute("SELECT version FROM schema_version").fetchone()[0]
    problems = _upgraded(store, expected)
    return {"from_schema": 1, "to_schema": to_version, "violations": len(problems),
            "violation_examples": problems[:5]}  # fmt: skip


def run(agents: int, messages: int, passages: int, seed: int = 0) -> dict[str, Any]:
    """SQLite's figures at the top level, PostgreSQL's under "postgres" (its violations
    counted in the total)."""
    expected = _old_history(agents, messages, passages, seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "old.db"
        _old_sqlite(path, expected)
        conn = sqlite3.connect(path, isolation_level=None)
        from_version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.close()
        store = SQLiteStore(path)  # the newest code: every later migration runs here
        to_version = migrate_sqlite(store._conn())
        problems = _upgraded(store, expected)
    postgres = _postgres(_old_history(agents, messages, passages, seed))
    return {
        "from_schema": from_version,
        "to_schema": to_version,
        "agents": agents,
        "messages": sum(len(e["messages"]) for e in expected.values()),
        "passages": sum(len(e["passages"]) for e in expected.values()),
        "violations": len(problems) + postgres.get("violations", 0),
        "violation_examples": problems[:5],
        "postgres": postgres,
    }
