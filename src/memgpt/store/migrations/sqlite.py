"""SQLite's statements for the steps of the migration history where they differ from
PostgreSQL's (see `memgpt.store.migrations`). Released steps are never edited."""

# the first schema
FIRST = """
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
    """

# document sources (after their tables and passages_v2, `memgpt.store.migrations`). A
# passage belongs either to an agent (its own inserts) or to a source that agents attach;
# SQLite cannot relax NOT NULL in place, so passages is rebuilt keeping its pks (they are
# the FTS rowids and the vector index keys).
SOURCES = """
    INSERT INTO passages_v2 (pk, id, agent_id, text, embedding, source, metadata, created_at)
        SELECT pk, id, agent_id, text, embedding, source, metadata, created_at FROM passages;
    DROP TABLE passages;
    ALTER TABLE passages_v2 RENAME TO passages;
    CREATE INDEX passages_agent ON passages(agent_id, pk);
    CREATE INDEX passages_source ON passages(source_id, pk);
    CREATE INDEX passages_time ON passages(created_at);
    CREATE UNIQUE INDEX passages_source_chunk ON passages(source_id, chunk_hash)
        WHERE source_id IS NOT NULL AND chunk_hash IS NOT NULL;
    """

# per-agent counts kept by triggers, so memory statistics cost O(1) at any history size
COUNTS = """
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
    """

# archival full-text search moves to tantivy (store/indexes/text.py), which keeps its
# index in step by pk: so pks must never be reused, even after the newest is deleted
TANTIVY = """
    DROP TABLE passages_fts;
    CREATE TABLE passage_pks (last INTEGER NOT NULL);
    INSERT INTO passage_pks SELECT COALESCE(MAX(pk), 0) FROM passages;
    """

# agents the scheduler wakes, marked from their state (JSON read as each dialect reads it)
TIMED_AGENTS = """
    ALTER TABLE agents ADD COLUMN timed integer NOT NULL DEFAULT 0;
    UPDATE agents SET timed = 1 WHERE json_extract(state, '$.heartbeat_interval_s') IS NOT NULL
        OR json_extract(state, '$.sleeptime_agent_id') IS NOT NULL;
    CREATE INDEX agents_timed ON agents (created_at) WHERE timed = 1;
"""

# recall ranks by each agent's own statistics (dialects/sqlite_recall.py): each agent gets
# a number, its counts of indexed messages and their tokens, and its rows in the full-text
# index the rowids (number << 32) | seq, one range per agent; messages_fts_instances lists
# each token's occurrences. The counts come from the rebuilt index's own token lists.
RECALL_BY_AGENT = """
    CREATE TABLE recall_agents (
        num INTEGER PRIMARY KEY AUTOINCREMENT,
        agent_id TEXT NOT NULL UNIQUE REFERENCES agents(id) ON DELETE CASCADE,
        documents INTEGER NOT NULL DEFAULT 0,
        tokens INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO recall_agents (agent_id) SELECT id FROM agents ORDER BY created_at, id;
    CREATE TRIGGER recall_agents_add AFTER INSERT ON agents BEGIN
        INSERT INTO recall_agents (agent_id) VALUES (NEW.id);
    END;
    CREATE VIRTUAL TABLE messages_fts_by_agent USING fts5(body, tokenize = 'porter unicode61');
    INSERT INTO messages_fts_by_agent (rowid, body)
        SELECT (r.num << 32) | m.seq, f.body
        FROM messages_fts f JOIN messages m ON m.pk = f.rowid
        JOIN recall_agents r ON r.agent_id = m.agent_id;
    DROP TABLE messages_fts;
    ALTER TABLE messages_fts_by_agent RENAME TO messages_fts;
    CREATE VIRTUAL TABLE messages_fts_instances USING fts5vocab(messages_fts, instance);
    CREATE TEMP TABLE recall_tokens AS
        SELECT doc >> 32 AS num, COUNT(*) AS tokens FROM messages_fts_instances GROUP BY 1;
    UPDATE recall_agents SET
        documents = (
            SELECT COUNT(*) FROM messages_fts
            WHERE rowid BETWEEN recall_agents.num << 32 AND (recall_agents.num << 32) | 4294967295
        ),
        tokens = COALESCE((SELECT t.tokens FROM temp.recall_tokens t WHERE t.num = recall_agents.num), 0);
    DROP TABLE temp.recall_tokens;
    """
