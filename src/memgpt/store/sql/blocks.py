"""Working context blocks, written once for both dialects: blocks are rows of their own,
attached to agents through `agent_blocks`, so one block can sit in several agents'
working context. A block's value changes only through an edit (`apply_block_edit`),
which is recorded in the block's history in the same transaction.
"""

from __future__ import annotations

from memgpt.schemas import Block, BlockEdit, utcnow
from memgpt.store.base import StoreError
from memgpt.store.sql.seam import Row, Seam

_COLUMNS = 'b.id, b.label, b.value, b.char_limit AS "limit", b.description'


class BlocksSQL(Seam):
    @staticmethod
    def _block(row: Row) -> Block:
        return Block(**dict(row))

    def create_block(self, block: Block) -> None:
        """Store a block attached to no agent (yet); one already stored is left as it is."""
        self._run(
            "INSERT INTO blocks (id, label, value, char_limit, description, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (
                block.id,
                block.label,
                block.value,
                block.limit,
                block.description,
                self._ts(utcnow()),
            ),
        )

    def get_block(self, block_id: str) -> Block | None:
        row = self._one(f"SELECT {_COLUMNS} FROM blocks b WHERE b.id = ?", (block_id,))
        return self._block(row) if row else None

    def agent_blocks(self, agent_id: str) -> list[Block]:
        """The agent's working context blocks, in their order."""
        rows = self._query(
            f"SELECT {_COLUMNS} FROM agent_blocks a JOIN blocks b ON b.id = a.block_id"
            " WHERE a.agent_id = ? ORDER BY a.position",
            (agent_id,),
        )
        return [self._block(r) for r in rows]

    def update_block(self, block: Block) -> None:
        """Save a block's label, limit and description (its value changes only by edits)."""
        with self.transaction():
            for agent_id in self.block_agents(block.id):
                self._check_label(agent_id, block.label, block.id)
            self._run(
                "UPDATE blocks SET label = ?, char_limit = ?, description = ? WHERE id = ?",
                (block.label, block.limit, block.description, block.id),
            )

    def delete_block(self, block_id: str) -> None:
        """Delete the block, detaching it from every agent."""
        self._run("DELETE FROM blocks WHERE id = ?", (block_id,))

    def attach_block(self, agent_id: str, block_id: str) -> None:
        """Put the block last in the agent's working context (nothing if it is there)."""
        with self.transaction():
            block = self.get_block(block_id)
            if block is None:
                raise StoreError(f"There is no block {block_id!r}.")
            if self._one(
                "SELECT 1 FROM agent_blocks WHERE agent_id = ? AND block_id = ?",
                (agent_id, block_id),
            ):
                return
            self._check_label(agent_id, block.label, block_id)
            self._run(
                "INSERT INTO agent_blocks (agent_id, block_id, position) SELECT ?, ?,"
                " COALESCE(MAX(position), -1) + 1 FROM agent_blocks WHERE agent_id = ?",
                (agent_id, block_id, agent_id),
            )

    def detach_block(self, agent_id: str, block_id: str) -> bool:
        """Take the block out of the agent's working context; the block stays."""
        return bool(
            self._run(
                "DELETE FROM agent_blocks WHERE agent_id = ? AND block_id = ?",
                (agent_id, block_id),
            )
        )

    def block_agents(self, block_id: str) -> list[str]:
        """The ids of the agents whose working context holds the block."""
        rows = self._query(
            "SELECT agent_id FROM agent_blocks WHERE block_id = ? ORDER BY agent_id", (block_id,)
        )
        return [r["agent_id"] for r in rows]

    def _check_label(self, agent_id: str, label: str, block_id: str) -> None:
        if self._one(
            "SELECT 1 FROM agent_blocks a JOIN blocks b ON b.id = a.block_id"
            " WHERE a.agent_id = ? AND b.label = ? AND b.id <> ?",
            (agent_id, label, block_id),
        ):
            raise StoreError(
                f"Agent {agent_id!r} already has a block labelled {label!r}; detach it or "
                "relabel one of them."
            )

    def _write_agent_blocks(self, agent_id: str, blocks: list[Block]) -> None:
        """A new agent's blocks: stored (those not stored yet) and attached in order."""
        for block in blocks:
            self.create_block(block)
        self._run_many(
            "INSERT INTO agent_blocks (agent_id, block_id, position) VALUES (?, ?, ?)",
            [(agent_id, b.id, i) for i, b in enumerate(blocks)],
        )

    def _drop_agent_blocks(self, agent_id: str) -> None:
        """Delete the agent's blocks that no other agent shares: they were its memory alone."""
        self._run(
            "DELETE FROM blocks WHERE id IN (SELECT block_id FROM agent_blocks WHERE agent_id = ?)"
            " AND id NOT IN (SELECT block_id FROM agent_blocks WHERE agent_id <> ?)",
            (agent_id, agent_id),
        )

    # edits

    def lock_block(self, block_id: str) -> Block | None:
        """The block as last committed, held against other writers until the transaction
        ends: an edit based on it cannot lose a concurrent one. Call inside a transaction."""
        row = self._one(
            f"SELECT {_COLUMNS} FROM blocks b WHERE b.id = ?{self._for_update}", (block_id,)
        )
        return self._block(row) if row else None

    def apply_block_edit(self, edit: BlockEdit) -> None:
        """Set the block to the edit's new value and record the edit, together."""
        with self.transaction():
            self._run("UPDATE blocks SET value = ? WHERE id = ?", (edit.new_value, edit.block_id))
            self._run(
                "INSERT INTO block_edits"
                " (block_id, agent_id, label, old_value, new_value, actor, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    edit.block_id,
                    edit.agent_id,
                    edit.label,
                    edit.old_value,
                    edit.new_value,
                    edit.actor,
                    self._ts(edit.created_at),
                ),
            )

    def block_history(self, block_id: str) -> list[BlockEdit]:
        """The block's edits, oldest first, whichever agent (or the user) made them."""
        rows = self._query("SELECT * FROM block_edits WHERE block_id = ? ORDER BY pk", (block_id,))
        return [self._record(BlockEdit, r) for r in rows]
