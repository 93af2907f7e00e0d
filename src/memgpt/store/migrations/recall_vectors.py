"""Semantic recall's tables (`memgpt.memory.recall_embedding`): each searchable message's
embedding, and per agent the seq up to which its messages have been looked at.

The vectors are derived data: the mark says which messages the embedding worker has
done, so messages committed above it (a crash before their embedding) are found and
embedded at the next open. On SQLite `pk` is the usearch key, so it is AUTOINCREMENT:
never reused, as the index's watermark requires (`memgpt.store.indexes.owners`).
"""

SQLITE = """
    CREATE TABLE message_vectors (
        pk INTEGER PRIMARY KEY AUTOINCREMENT,
        message_pk INTEGER NOT NULL UNIQUE REFERENCES messages(pk) ON DELETE CASCADE,
        agent_id TEXT NOT NULL,
        embedding BLOB NOT NULL
    );
    CREATE INDEX message_vectors_agent ON message_vectors(agent_id, pk);
    CREATE TABLE recall_embedded (
        agent_id TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL
    );
    """

# Inline vectors, as passages' (see VECTORS_INLINE); the HNSW index of each dimension is
# made on first use, as passages' (`memgpt.store.dialects.postgres_archival`).
POSTGRES = """
    CREATE TABLE message_vectors (
        pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        message_pk bigint NOT NULL UNIQUE REFERENCES messages (pk) ON DELETE CASCADE,
        agent_id text NOT NULL,
        embedding vector NOT NULL
    );
    ALTER TABLE message_vectors ALTER COLUMN embedding SET STORAGE MAIN;
    CREATE INDEX message_vectors_agent ON message_vectors (agent_id, pk);
    CREATE TABLE recall_embedded (
        agent_id text PRIMARY KEY REFERENCES agents (id) ON DELETE CASCADE,
        seq bigint NOT NULL
    );
    """
