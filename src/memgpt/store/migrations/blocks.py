"""The step that made memory blocks shareable: block rows of their own, attached to agents
through `agent_blocks`, owned by an organization, with an edit history kept per block.

Each agent's old blocks become blocks attached to it alone, in the same order, owned by
its organization; each old edit moves to its block's history, in the same order.
"""

from __future__ import annotations

# A new block id per row: a uuid4's shape from SQLite's random bytes, PostgreSQL's own uuid.
NEW_ID = {
    "sqlite": "'block-' || lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4'"
    " || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + abs(random()) % 4, 1)"
    " || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))",
    "postgres": "'block-' || gen_random_uuid()",
}

SHARED_BLOCKS = """
    CREATE TABLE blocks_before_sharing AS
        SELECT {new_id} AS id, agent_id, label, value, char_limit, description, position
        FROM blocks;
    CREATE TABLE edits_before_sharing AS SELECT * FROM block_edits;
    DROP TABLE block_edits;
    DROP TABLE blocks;
    CREATE TABLE blocks (
        id text PRIMARY KEY,
        label text NOT NULL,
        value text NOT NULL,
        char_limit integer NOT NULL,
        description text NOT NULL DEFAULT '',
        created_at {time} NOT NULL
    );
    CREATE TABLE agent_blocks (
        agent_id text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
        block_id text NOT NULL REFERENCES blocks (id) ON DELETE CASCADE,
        position integer NOT NULL,
        PRIMARY KEY (agent_id, block_id)
    );
    CREATE INDEX agent_blocks_block ON agent_blocks (block_id);
    CREATE TABLE block_owners (
        block_id text PRIMARY KEY REFERENCES blocks (id) ON DELETE CASCADE,
        organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE
    );
    CREATE INDEX block_owners_org ON block_owners (organization_id, block_id);
    CREATE TABLE block_edits (
        pk {pk},
        block_id text REFERENCES blocks (id) ON DELETE CASCADE,
        agent_id text,
        label text NOT NULL,
        old_value text NOT NULL,
        new_value text NOT NULL,
        actor text NOT NULL,
        created_at {time} NOT NULL
    );
    CREATE INDEX block_edits_block ON block_edits (block_id, pk);
    INSERT INTO blocks (id, label, value, char_limit, description, created_at)
        SELECT b.id, b.label, b.value, b.char_limit, b.description, a.created_at
        FROM blocks_before_sharing b JOIN agents a ON a.id = b.agent_id;
    INSERT INTO agent_blocks (agent_id, block_id, position)
        SELECT agent_id, id, position FROM blocks_before_sharing;
    INSERT INTO block_owners (block_id, organization_id)
        SELECT b.id, o.organization_id
        FROM blocks_before_sharing b JOIN agent_owners o ON o.agent_id = b.agent_id;
    INSERT INTO block_edits (block_id, agent_id, label, old_value, new_value, actor, created_at)
        SELECT b.id, e.agent_id, e.label, e.old_value, e.new_value, e.actor, e.created_at
        FROM edits_before_sharing e
        LEFT JOIN blocks_before_sharing b ON b.agent_id = e.agent_id AND b.label = e.label
        ORDER BY e.pk;
    DROP TABLE edits_before_sharing;
    DROP TABLE blocks_before_sharing;
"""
