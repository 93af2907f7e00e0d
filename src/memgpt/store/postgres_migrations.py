"""Schema migrations for the PostgreSQL store, applied in order and recorded in `schema_version`.

Never edit a released migration: append a new one. Each runs in its own
transaction under an advisory lock, so several server processes starting on a
new database apply each migration exactly once, and an interrupted upgrade
leaves the previous version intact (PostgreSQL's DDL is transactional).

The tables mirror the SQLite store's (`migrations.py`), with native types:
timestamptz, jsonb, text[] and pgvector's `vector`. Text search uses a
configuration `memgpt` (English Snowball stemming, no stop words) so recall
search matches the same words as SQLite's `porter unicode61` tokenizer.
"""

from __future__ import annotations

import hashlib

import psycopg

PG_MIGRATIONS: list[str] = [
    # 1: agents, working context, recall and archival storage, document sources
    """
    CREATE EXTENSION IF NOT EXISTS vector;
    CREATE TEXT SEARCH DICTIONARY memgpt_stem (TEMPLATE = snowball, LANGUAGE = english);
    CREATE TEXT SEARCH CONFIGURATION memgpt (COPY = english);
    ALTER TEXT SEARCH CONFIGURATION memgpt
        ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part
        WITH memgpt_stem;
    -- OR of several tsqueries, so search words can each go through plainto_tsquery
    CREATE AGGREGATE memgpt_tsquery_any(tsquery) (SFUNC = tsquery_or, STYPE = tsquery);

    CREATE TABLE agents (
        id text PRIMARY KEY,
        name text NOT NULL UNIQUE,
        state jsonb NOT NULL,
        created_at timestamptz NOT NULL
    );
    CREATE INDEX agents_created ON agents (created_at, name);
    CREATE TABLE blocks (
        agent_id text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
        label text NOT NULL,
        value text NOT NULL,
        char_limit integer NOT NULL,
        description text NOT NULL DEFAULT '',
        position integer NOT NULL,
        PRIMARY KEY (agent_id, label)
    );
    CREATE TABLE block_edits (
        pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        agent_id text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
        label text NOT NULL,
        old_value text NOT NULL,
        new_value text NOT NULL,
        actor text NOT NULL,
        created_at timestamptz NOT NULL
    );
    CREATE INDEX block_edits_agent ON block_edits (agent_id, label, pk);

    CREATE TABLE messages (
        pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id text NOT NULL UNIQUE,
        agent_id text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
        seq bigint NOT NULL,
        role text NOT NULL,
        event text,
        text text NOT NULL,
        tool_calls jsonb NOT NULL DEFAULT '[]',
        tool_call_id text,
        name text,
        created_at timestamptz NOT NULL,
        in_context boolean NOT NULL,
        body tsvector,  -- what recall search sees; NULL for events and tool results
        UNIQUE (agent_id, seq)
    );
    CREATE INDEX messages_queue ON messages (agent_id, seq) WHERE in_context;
    CREATE INDEX messages_time ON messages (agent_id, created_at);
    CREATE INDEX messages_body ON messages USING gin (body);

    CREATE TABLE sources (
        id text PRIMARY KEY,
        name text NOT NULL UNIQUE,
        description text NOT NULL DEFAULT '',
        embedding jsonb NOT NULL,
        created_at timestamptz NOT NULL
    );
    CREATE TABLE source_files (
        pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        source_id text NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
        path text NOT NULL,
        sha256 text,
        status text NOT NULL CHECK (status IN ('done', 'failed')),
        passages integer NOT NULL DEFAULT 0,
        error text,
        loaded_at timestamptz NOT NULL
    );
    CREATE UNIQUE INDEX source_files_done ON source_files (source_id, sha256) WHERE status = 'done';
    CREATE INDEX source_files_path ON source_files (source_id, path);
    CREATE TABLE agent_sources (
        agent_id text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
        source_id text NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
        attached_at timestamptz NOT NULL,
        PRIMARY KEY (agent_id, source_id)
    );

    -- `embedding` has no fixed dimension: agents and sources may use different models.
    -- Each dimension in use gets its own partial HNSW index (see postgres_archival.py).
    CREATE TABLE passages (
        pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id text NOT NULL UNIQUE,
        agent_id text REFERENCES agents (id) ON DELETE CASCADE,
        source_id text REFERENCES sources (id) ON DELETE CASCADE,
        file_pk bigint REFERENCES source_files (pk) ON DELETE CASCADE,
        text text NOT NULL,
        embedding vector,
        source text,
        page integer,
        char_offset integer,
        chunk_hash text,
        tags text[] NOT NULL DEFAULT '{}',
        metadata jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL,
        body tsvector GENERATED ALWAYS AS (to_tsvector('memgpt', text)) STORED,
        CHECK ((agent_id IS NULL) <> (source_id IS NULL))
    );
    CREATE INDEX passages_agent ON passages (agent_id, pk);
    CREATE INDEX passages_source ON passages (source_id, pk);
    CREATE INDEX passages_time ON passages (created_at);
    CREATE INDEX passages_body ON passages USING gin (body);
    CREATE UNIQUE INDEX passages_source_chunk ON passages (source_id, chunk_hash)
        WHERE source_id IS NOT NULL AND chunk_hash IS NOT NULL;

    -- per-agent counts kept by statement-level triggers, so memory statistics cost O(1)
    -- at any history size and a bulk insert updates each agent's row once
    CREATE TABLE agent_counts (
        agent_id text PRIMARY KEY REFERENCES agents (id) ON DELETE CASCADE,
        messages bigint NOT NULL DEFAULT 0,
        passages bigint NOT NULL DEFAULT 0
    );
    CREATE FUNCTION memgpt_agent_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO agent_counts (agent_id) SELECT id FROM new_rows;
        RETURN NULL;
    END $$;
    CREATE TRIGGER agent_counts_add AFTER INSERT ON agents
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION memgpt_agent_counts_add();
    CREATE FUNCTION memgpt_messages_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE agent_counts c SET messages = c.messages + d.n
        FROM (SELECT agent_id, count(*) AS n FROM new_rows GROUP BY agent_id) d
        WHERE c.agent_id = d.agent_id;
        RETURN NULL;
    END $$;
    CREATE FUNCTION memgpt_messages_removed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE agent_counts c SET messages = c.messages - d.n
        FROM (SELECT agent_id, count(*) AS n FROM old_rows GROUP BY agent_id) d
        WHERE c.agent_id = d.agent_id;
        RETURN NULL;
    END $$;
    CREATE FUNCTION memgpt_passages_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE agent_counts c SET passages = c.passages + d.n
        FROM (SELECT agent_id, count(*) AS n FROM new_rows
              WHERE agent_id IS NOT NULL GROUP BY agent_id) d
        WHERE c.agent_id = d.agent_id;
        RETURN NULL;
    END $$;
    CREATE FUNCTION memgpt_passages_removed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE agent_counts c SET passages = c.passages - d.n
        FROM (SELECT agent_id, count(*) AS n FROM old_rows
              WHERE agent_id IS NOT NULL GROUP BY agent_id) d
        WHERE c.agent_id = d.agent_id;
        RETURN NULL;
    END $$;
    CREATE TRIGGER messages_count_add AFTER INSERT ON messages
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION memgpt_messages_added();
    CREATE TRIGGER messages_count_remove AFTER DELETE ON messages
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
        EXECUTE FUNCTION memgpt_messages_removed();
    CREATE TRIGGER passages_count_add AFTER INSERT ON passages
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION memgpt_passages_added();
    CREATE TRIGGER passages_count_remove AFTER DELETE ON passages
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
        EXECUTE FUNCTION memgpt_passages_removed();
    """,
    # 2: server accounts (see accounts.py): organizations own agents and tools; users hold
    # hashed API keys; idempotency keys remember the response to a retried message POST
    """
    CREATE TABLE organizations (
        id text PRIMARY KEY,
        name text NOT NULL,
        created_at timestamptz NOT NULL
    );
    CREATE TABLE users (
        id text PRIMARY KEY,
        organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        name text NOT NULL,
        created_at timestamptz NOT NULL
    );
    CREATE TABLE api_keys (
        id text PRIMARY KEY,
        user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        secret_sha256 text NOT NULL,
        name text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL
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
        json_schema jsonb NOT NULL,
        tags jsonb NOT NULL DEFAULT '[]',
        created_at timestamptz NOT NULL,
        UNIQUE (organization_id, name)
    );
    CREATE TABLE idempotency_keys (
        agent_id text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
        key text NOT NULL,
        response text NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (agent_id, key)
    );
    """,
    # 3: server document sources (SQLite's last migration): the organization that owns
    # each source and the name its users know it by (store names stay unique across
    # organizations), and files uploaded over the API with the processing status that
    # clients poll
    """
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
        file_size bigint NOT NULL,
        status text NOT NULL,
        error text,
        chunks integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
    );
    CREATE INDEX uploaded_files_source ON uploaded_files (source_id, created_at);
    """,
]


def advisory_key(name: str) -> int:
    """A signed 64-bit advisory lock key for a name (agent id, source id, purpose)."""
    return int.from_bytes(
        hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
    )


def migrate_postgres(conn: psycopg.Connection) -> int:
    """Bring the database up to the newest schema; return the version it is now at.

    `conn` must be in autocommit mode: each migration is its own transaction.
    """
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (advisory_key("memgpt:migrate"),))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            version = row[0] if row else 0
            if version >= len(PG_MIGRATIONS):
                return version
            conn.execute(PG_MIGRATIONS[version])
            if row is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version + 1,))
            else:
                conn.execute("UPDATE schema_version SET version = %s", (version + 1,))
