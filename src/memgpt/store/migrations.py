"""Schema migrations for the SQLite store, applied in order and recorded in `PRAGMA user_version`.

Never edit a released migration: append a new one. Each runs in its own
transaction, so an interrupted upgrade leaves the previous version intact.
"""

from __future__ import annotations

import sqlite3

SQLITE_MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE agents (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE blocks (
        agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        label TEXT NOT NULL,
        value TEXT NOT NULL,
        char_limit INTEGER NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        position INTEGER NOT NULL,
        PRIMARY KEY (agent_id, label)
    );
    CREATE TABLE block_edits (
        pk INTEGER PRIMARY KEY,
        agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        label TEXT NOT NULL,
        old_value TEXT NOT NULL,
        new_value TEXT NOT NULL,
        actor TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX block_edits_agent ON block_edits(agent_id, label, pk);
    CREATE TABLE messages (
        pk INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        role TEXT NOT NULL,
        event TEXT,
        text TEXT NOT NULL,
        tool_calls TEXT NOT NULL DEFAULT '[]',
        tool_call_id TEXT,
        name TEXT,
        created_at TEXT NOT NULL,
        in_context INTEGER NOT NULL,
        UNIQUE (agent_id, seq)
    );
    CREATE INDEX messages_queue ON messages(agent_id, in_context, seq);
    CREATE INDEX messages_time ON messages(agent_id, created_at);
    CREATE VIRTUAL TABLE messages_fts USING fts5(body, tokenize = 'porter unicode61');
    CREATE TABLE passages (
        pk INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        text TEXT NOT NULL,
        embedding BLOB,
        source TEXT,
        metadata TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL
    );
    CREATE INDEX passages_agent ON passages(agent_id, pk);
    CREATE VIRTUAL TABLE passages_fts USING fts5(text, tokenize = 'porter unicode61');
    """,
]


def migrate_sqlite(conn: sqlite3.Connection) -> int:
    """Bring the database up to the newest schema; return the version it is now at.

    The version is read inside the write lock, so two processes opening a new
    file at once apply each migration exactly once.
    """
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version >= len(SQLITE_MIGRATIONS):
                conn.execute("COMMIT")
                return version
            for statement in SQLITE_MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
