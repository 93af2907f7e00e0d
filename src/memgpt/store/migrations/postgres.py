"""PostgreSQL's statements for the steps of the migration history where they differ from
SQLite's (see `memgpt.store.migrations`). Released steps are never edited.

Native types: timestamptz, jsonb, text[] and pgvector's `vector`. Text search uses a
configuration `memgpt` (English Snowball stemming, no stop words) so recall search
matches the same words as SQLite's `porter unicode61` tokenizer.
"""

# the first schema: agents, working context and recall storage,
FIRST_RECALL = """
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
    """

# then the document source tables and passages (`memgpt.store.migrations`), then:
FIRST_ARCHIVAL = """
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
    """

# A 384-d vector (1.5 kB) with the passage's text and tsvector passes TOAST's 2 kB
# threshold, so PostgreSQL moved vectors out of line: an exact scan then read ~9 buffers a
# row, twice (vector_dims, then the distance), 76 ms at 6k passages against 12.6 ms inline.
# MAIN keeps them in the row and moves them out only when a row cannot fit a page (large
# dimensions). Rows already written keep their storage until rewritten.
VECTORS_INLINE = """
    ALTER TABLE passages ALTER COLUMN embedding SET STORAGE MAIN;
"""

# agents the scheduler wakes, marked from their state (JSON read as each dialect reads it)
TIMED_AGENTS = """
    ALTER TABLE agents ADD COLUMN timed integer NOT NULL DEFAULT 0;
    UPDATE agents SET timed = 1 WHERE state->>'heartbeat_interval_s' IS NOT NULL
        OR state->>'sleeptime_agent_id' IS NOT NULL;
    CREATE INDEX agents_timed ON agents (created_at) WHERE timed = 1;
"""

# GIN's fast update queues new entries in a pending list that every search reads through
# until a vacuum merges it: at 20k messages, recall search took 88 ms with the list and
# 25 ms once merged (load ~18). A message is a few dozen entries written once, so they
# go straight into the index, and the list already there is merged now.
RECALL_GIN_DIRECT = """
    ALTER INDEX messages_body SET (fastupdate = off);
    SELECT gin_clean_pending_list('messages_body'::regclass);
"""

# GIN's fast update queues new entries in a pending list (up to 4 MB) that every search
# reads whole, and while it is long the planner prices the index above a scan of every
# passage: at 10k passages just loaded, a one-word search scanned them all (14 ms against
# 0.2 ms). A list of at most 64 kB (the least allowed) keeps both: inserts still merge
# into the index in batches, and searches read a few pages of it. Queued entries move now.
PASSAGES_BODY_SHORT_QUEUE = """
    ALTER INDEX passages_body SET (gin_pending_list_limit = 64);
    SELECT gin_clean_pending_list('passages_body'::regclass);
"""
