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
    # server accounts: organizations own agents and tools; users hold hashed API keys;
    # idempotency keys remember the response to a message POST so a retry is not a new message
    """
    CREATE TABLE organizations (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        secret_sha256 TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL
    );
    CREATE TABLE agent_owners (
        agent_id TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
        organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        name TEXT NOT NULL
    );
    CREATE INDEX agent_owners_org ON agent_owners(organization_id, name);
    CREATE TABLE user_tools (
        id TEXT PRIMARY KEY,
        organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        source_code TEXT NOT NULL,
        json_schema TEXT NOT NULL,
        tags TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL,
        UNIQUE (organization_id, name)
    );
    CREATE TABLE idempotency_keys (
        agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        response TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (agent_id, key)
    );
    """,
    # document sources. A passage belongs either to an agent (its own inserts) or to a
    # source that agents attach; SQLite cannot relax NOT NULL in place, so passages is
    # rebuilt keeping its pks (they are the FTS rowids and the vector index keys).
    """
    CREATE TABLE sources (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL DEFAULT '',
        embedding TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE source_files (
        pk INTEGER PRIMARY KEY,
        source_id TEXT NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        sha256 TEXT,
        status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
        passages INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        loaded_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX source_files_done ON source_files(source_id, sha256) WHERE status = 'done';
    CREATE INDEX source_files_path ON source_files(source_id, path);
    CREATE TABLE agent_sources (
        agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        source_id TEXT NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
        attached_at TEXT NOT NULL,
        PRIMARY KEY (agent_id, source_id)
    );
    CREATE TABLE passages_v2 (
        pk INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        agent_id TEXT REFERENCES agents(id) ON DELETE CASCADE,
        source_id TEXT REFERENCES sources(id) ON DELETE CASCADE,
        file_pk INTEGER REFERENCES source_files(pk) ON DELETE CASCADE,
        text TEXT NOT NULL,
        embedding BLOB,
        source TEXT,
        page INTEGER,
        char_offset INTEGER,
        chunk_hash TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        metadata TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        CHECK ((agent_id IS NULL) <> (source_id IS NULL))
    );
    INSERT INTO passages_v2 (pk, id, agent_id, text, embedding, source, metadata, created_at)
        SELECT pk, id, agent_id, text, embedding, source, metadata, created_at FROM passages;
    DROP TABLE passages;
    ALTER TABLE passages_v2 RENAME TO passages;
    CREATE INDEX passages_agent ON passages(agent_id, pk);
    CREATE INDEX passages_source ON passages(source_id, pk);
    CREATE INDEX passages_time ON passages(created_at);
    CREATE UNIQUE INDEX passages_source_chunk ON passages(source_id, chunk_hash)
        WHERE source_id IS NOT NULL AND chunk_hash IS NOT NULL;
    """,
    # per-agent counts kept by triggers, so memory statistics cost O(1) at any history size
    """
    CREATE TABLE agent_counts (
        agent_id TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
        messages INTEGER NOT NULL DEFAULT 0,
        passages INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO agent_counts (agent_id, messages, passages)
        SELECT a.id,
               (SELECT COUNT(*) FROM messages m WHERE m.agent_id = a.id),
               (SELECT COUNT(*) FROM passages p WHERE p.agent_id = a.id)
        FROM agents a;
    CREATE TRIGGER agent_counts_add AFTER INSERT ON agents BEGIN
        INSERT INTO agent_counts (agent_id) VALUES (NEW.id);
    END;
    CREATE TRIGGER messages_count_add AFTER INSERT ON messages BEGIN
        UPDATE agent_counts SET messages = messages + 1 WHERE agent_id = NEW.agent_id;
    END;
    CREATE TRIGGER messages_count_remove AFTER DELETE ON messages BEGIN
        UPDATE agent_counts SET messages = messages - 1 WHERE agent_id = OLD.agent_id;
    END;
    CREATE TRIGGER passages_count_add AFTER INSERT ON passages WHEN NEW.agent_id IS NOT NULL BEGIN
        UPDATE agent_counts SET passages = passages + 1 WHERE agent_id = NEW.agent_id;
    END;
    CREATE TRIGGER passages_count_remove AFTER DELETE ON passages WHEN OLD.agent_id IS NOT NULL BEGIN
        UPDATE agent_counts SET passages = passages - 1 WHERE agent_id = OLD.agent_id;
    END;
    """,
    # server document sources: the organization that owns each source and the name its
    # users know it by (store names stay unique across organizations), and files uploaded
    # over the API with their processing status, which clients poll
    """
    CREATE TABLE source_owners (
        source_id TEXT PRIMARY KEY REFERENCES sources(id) ON DELETE CASCADE,
        organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        name TEXT NOT NULL
    );
    CREATE INDEX source_owners_org ON source_owners(organization_id, name);
    CREATE TABLE uploaded_files (
        id TEXT PRIMARY KEY,
        source_id TEXT NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
        file_name TEXT NOT NULL,
        file_type TEXT,
        file_size INTEGER NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        chunks INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX uploaded_files_source ON uploaded_files(source_id, created_at);
    """,
    # archival full-text search moves to tantivy (store/text_index.py), which keeps its
    # index in step by pk: so pks must never be reused, even after the newest is deleted
    """
    DROP TABLE passages_fts;
    CREATE TABLE passage_pks (last INTEGER NOT NULL);
    INSERT INTO passage_pks SELECT COALESCE(MAX(pk), 0) FROM passages;
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
            for statement in _statements(SQLITE_MIGRATIONS[version]):
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
