"""The store's one migration history: ordered, named steps, each with its statements for
SQLite and for PostgreSQL (`sqlite.py`, `postgres.py` where they differ, one template
where only column types do; None where the dialect's earlier steps already did it).

Never edit a released step: append a new one. A database's version is how many of the
steps that have statements for its dialect it has applied, so the versions every
earlier release recorded (SQLite's `PRAGMA user_version`, PostgreSQL's
`schema_version` table) still read the same. Each step runs in its own transaction,
so an interrupted upgrade leaves the previous version intact; both dialects' DDL is
transactional.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from typing import Any, Literal

from memgpt.store.migrations import blocks, postgres, recall_vectors, sqlite

Dialect = Literal["sqlite", "postgres"]
_TYPES: dict[Dialect, dict[str, str]] = {
    "sqlite": {
        "time": "TEXT",
        "json": "TEXT",
        "bigint": "INTEGER",
        "pk": "INTEGER PRIMARY KEY",
        "vector": "BLOB",
        "tags": "TEXT NOT NULL DEFAULT '[]'",
        "passages": "passages_v2",  # rebuilt in place of the first release's
        "full_text": "",  # in tantivy (first in FTS5)
        "new_id": blocks.NEW_ID["sqlite"],
    },
    "postgres": {
        "time": "timestamptz",
        "json": "jsonb",
        "bigint": "bigint",
        "pk": "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        # no fixed dimension: agents and sources may use different models. Each dimension
        # in use gets its own partial HNSW index (see dialects/postgres_archival.py).
        "vector": "vector",
        "tags": "text[] NOT NULL DEFAULT '{}'",
        "passages": "passages",
        "full_text": "\n        body tsvector GENERATED ALWAYS AS (to_tsvector('memgpt', text)) STORED,",
        "new_id": blocks.NEW_ID["postgres"],
    },
}


@dataclass(frozen=True)
class Step:
    name: str
    sqlite: str | None
    postgres: str | None

    @classmethod
    def typed(cls, name: str, template: str) -> Step:
        """A step whose statements differ only in column types."""
        return cls(name, typed(template, "sqlite"), typed(template, "postgres"))


def typed(template: str, dialect: Dialect) -> str:
    """Statements with the dialect's column types ({time}, {json}, {bigint}, {pk}, ...) and
    expressions ({new_id})."""
    return template.format(**_TYPES[dialect])


# document sources: named collections of files whose passages agents attach
_SOURCE_TABLES = """
    CREATE TABLE sources (
        id text PRIMARY KEY,
        name text NOT NULL UNIQUE,
        description text NOT NULL DEFAULT '',
        embedding {json} NOT NULL,
        created_at {time} NOT NULL
    );
    CREATE TABLE source_files (
        pk {pk},
        source_id text NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
        path text NOT NULL,
        sha256 text,
        status text NOT NULL CHECK (status IN ('done', 'failed')),
        passages integer NOT NULL DEFAULT 0,
        error text,
        loaded_at {time} NOT NULL
    );
    CREATE UNIQUE INDEX source_files_done ON source_files (source_id, sha256) WHERE status = 'done';
    CREATE INDEX source_files_path ON source_files (source_id, path);
    CREATE TABLE agent_sources (
        agent_id text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
        source_id text NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
        attached_at {time} NOT NULL,
        PRIMARY KEY (agent_id, source_id)
    );
"""


# server accounts: organizations own agents and tools; users hold hashed API keys;
# idempotency keys remember the response to a message POST so a retry is not a new message
_ACCOUNTS = """
    CREATE TABLE organizations (
        id text PRIMARY KEY,
        name text NOT NULL,
        created_at {time} NOT NULL
    );
    CREATE TABLE users (
        id text PRIMARY KEY,
        organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        name text NOT NULL,
        created_at {time} NOT NULL
    );
    CREATE TABLE api_keys (
        id text PRIMARY KEY,
        user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        secret_sha256 text NOT NULL,
        name text NOT NULL DEFAULT '',
        created_at {time} NOT NULL
    );
    CREATE TABLE agent_owners (
        agent_id text PRIMARY KEY REFERENCES agents (id) ON DELETE CASCADE,
        organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        user_id text NOT NULL,
        name text NOT NULL
    );
    CREATE INDEX agent_owners_org ON agent_owners (organization_id, name);
    CREATE TABLE user_tools (
        id text PRIMARY KEY,
        organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        name text NOT NULL,
        description text NOT NULL DEFAULT '',
        source_code text NOT NULL,
        json_schema {json} NOT NULL,
        tags {json} NOT NULL DEFAULT '[]',
        created_at {time} NOT NULL,
        UNIQUE (organization_id, name)
    );
    CREATE TABLE idempotency_keys (
        agent_id text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
        key text NOT NULL,
        response text NOT NULL,
        created_at {time} NOT NULL,
        PRIMARY KEY (agent_id, key)
    );
"""

# server document sources: the organization that owns each source and the name its
# users know it by (store names stay unique across organizations), and files uploaded
# over the API with their processing status, which clients poll
_SOURCE_OWNERS = """
    CREATE TABLE source_owners (
        source_id text PRIMARY KEY REFERENCES sources (id) ON DELETE CASCADE,
        organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        user_id text NOT NULL,
        name text NOT NULL
    );
    CREATE INDEX source_owners_org ON source_owners (organization_id, name);
    CREATE TABLE uploaded_files (
        id text PRIMARY KEY,
        source_id text NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
        file_name text NOT NULL,
        file_type text,
        file_size {bigint} NOT NULL,
        status text NOT NULL,
        error text,
        chunks integer NOT NULL DEFAULT 0,
        created_at {time} NOT NULL,
        updated_at {time} NOT NULL
    );
    CREATE INDEX uploaded_files_source ON uploaded_files (source_id, created_at);
"""

# archival storage: a passage is an agent's or a document source's
_PASSAGES = """
    CREATE TABLE {passages} (
        pk {pk},
        id text NOT NULL UNIQUE,
        agent_id text REFERENCES agents (id) ON DELETE CASCADE,
        source_id text REFERENCES sources (id) ON DELETE CASCADE,
        file_pk {bigint} REFERENCES source_files (pk) ON DELETE CASCADE,
        text text NOT NULL,
        embedding {vector},
        source text,
        page integer,
        char_offset integer,
        chunk_hash text,
        tags {tags},
        metadata {json} NOT NULL DEFAULT '{{}}',
        created_at {time} NOT NULL,{full_text}
        CHECK ((agent_id IS NULL) <> (source_id IS NULL))
    );
"""
_SOURCES = _SOURCE_TABLES + _PASSAGES

# agent-file imports still being written: their agents are hidden until the import ends,
# and one a crash left unfinished is deleted on the next start (store/sql/imports.py)
_IMPORTS = """
    CREATE TABLE agent_imports (
        agent_id text PRIMARY KEY REFERENCES agents (id) ON DELETE CASCADE,
        started_at {time} NOT NULL
    );
"""

# runs (one message's processing) and their committed steps, as Letta's /v1/runs, /v1/steps
_RUNS = """
    CREATE TABLE runs (
        id text PRIMARY KEY,
        agent_id text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
        status text NOT NULL,
        background integer NOT NULL DEFAULT 0,
        stop_reason text,
        created_at {time} NOT NULL,
        completed_at {time}
    );
    CREATE INDEX runs_agent ON runs (agent_id, created_at);
    CREATE INDEX runs_status ON runs (status);
    CREATE TABLE steps (
        id text PRIMARY KEY,
        run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        agent_id text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
        model text NOT NULL,
        prompt_tokens integer NOT NULL,
        completion_tokens integer NOT NULL,
        cached_prompt_tokens integer NOT NULL,
        duration_ns {bigint} NOT NULL,
        stop_reason text,
        first_seq {bigint} NOT NULL,
        last_seq {bigint} NOT NULL,
        created_at {time} NOT NULL
    );
    CREATE INDEX steps_run ON steps (run_id, created_at);
    CREATE INDEX steps_agent ON steps (agent_id, created_at);
"""

# MCP servers an organization registered, with the tools they offered when last listed
_MCP_SERVERS = """
    CREATE TABLE mcp_servers (
        id text PRIMARY KEY,
        organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        name text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('stdio', 'sse', 'streamable_http')),
        command text,
        args {json} NOT NULL,
        url text,
        headers {json} NOT NULL,
        tools {json} NOT NULL,
        tools_at {time} DEFAULT NULL,
        created_at {time} NOT NULL,
        UNIQUE (organization_id, name)
    );
"""

# a loaded file's extracted text, under the name agents know it by: the file tools open
# it by line range and grep it (passages alone overlap and skip what a source held before)
_FILE_TEXTS = """
    CREATE TABLE file_texts (
        file_pk {bigint} PRIMARY KEY REFERENCES source_files (pk) ON DELETE CASCADE,
        source_id text NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
        name text NOT NULL,
        text text NOT NULL
    );
    CREATE INDEX file_texts_name ON file_texts (source_id, name);
"""

# a user tool's calls wait for the user's approval in the agents it is attached to
_TOOL_APPROVAL = """
    ALTER TABLE user_tools ADD COLUMN default_requires_approval boolean NOT NULL DEFAULT FALSE;
"""

STEPS: list[Step] = [
    Step(
        "first schema",
        sqlite.FIRST,
        postgres.FIRST_RECALL + typed(_SOURCES, "postgres") + postgres.FIRST_ARCHIVAL,
    ),
    Step.typed("server accounts", _ACCOUNTS),
    # in PostgreSQL's first schema
    Step("document sources", typed(_SOURCES, "sqlite") + sqlite.SOURCES, None),
    Step("agent counts", sqlite.COUNTS, None),  # in PostgreSQL's first schema
    Step.typed("server document sources", _SOURCE_OWNERS),
    Step("archival full text in tantivy", sqlite.TANTIVY, None),  # tsvector stays in SQL
    Step("passage vectors inline", None, postgres.VECTORS_INLINE),
    Step.typed("shared blocks", blocks.SHARED_BLOCKS),
    Step.typed("agent imports", _IMPORTS),
    Step.typed("runs and steps", _RUNS),
    Step.typed("mcp servers", _MCP_SERVERS),
    Step.typed("file text for the file tools", _FILE_TEXTS),
    Step.typed("tools that require approval", _TOOL_APPROVAL),
    # the store (server process) working on a run: a start fails only runs of dead owners
    Step.typed("run owners", "ALTER TABLE runs ADD COLUMN owner text;"),
    # agents the scheduler wakes (a heartbeat interval or a sleep-time agent), indexed so a
    # tick reads those alone
    Step("timed agents", sqlite.TIMED_AGENTS, postgres.TIMED_AGENTS),
    Step("message vectors for semantic recall", recall_vectors.SQLITE, recall_vectors.POSTGRES),
    # PostgreSQL counts and ranks within the agent's rows (ts_rank has no corpus statistics)
    Step("recall ranked by the agent's own statistics", sqlite.RECALL_BY_AGENT, None),
    Step("recall's full-text index without a pending list", None, postgres.RECALL_GIN_DIRECT),
    Step("archival full text queue kept short", None, postgres.PASSAGES_BODY_SHORT_QUEUE),
    # the statistics an event was first shown with, so later prompts show it unchanged
    Step.typed(
        "memory statistics kept with each event",
        "ALTER TABLE messages ADD COLUMN memory_statistics text;",
    ),
]


def scripts(dialect: Dialect) -> list[str]:
    """The dialect's statements of each step that has any, in order: its versions."""
    return [script for step in STEPS if (script := getattr(step, dialect)) is not None]


def advisory_key(name: str) -> int:
    """A signed 64-bit advisory lock key for a name (agent id, source id, purpose)."""
    return int.from_bytes(
        hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
    )


def migrate_sqlite(conn: sqlite3.Connection) -> int:
    """Bring the database up to the newest schema; return the version it is now at.

    The version is read inside the write lock, so two processes opening a new
    file at once apply each step exactly once.
    """
    steps = scripts("sqlite")
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version >= len(steps):
                conn.execute("COMMIT")
                return version
            for statement in _statements(steps[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _statements(script: str) -> list[str]:
    """Split a script into statements; a trigger body's semicolons do not end its statement."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def migrate_postgres(conn: Any) -> int:
    """Bring the database up to the newest schema; return the version it is now at.

    `conn` (psycopg, in autocommit mode) applies each step in its own transaction under
    an advisory lock, so server processes starting together apply each exactly once.
    """
    steps = scripts("postgres")
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (advisory_key("memgpt:migrate"),))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            version = row[0] if row else 0
            if version >= len(steps):
                return version
            conn.execute(steps[version])
            if row is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version + 1,))
            else:
                conn.execute("UPDATE schema_version SET version = %s", (version + 1,))
