"""Working context: the labelled memory blocks that sit in main context and the agent edits.

Edits are checked against each block's character limit before anything changes,
and every accepted edit is returned as a `BlockEdit` for the history.
"""

from __future__ import annotations

from memgpt.schemas import AgentState, Block, BlockEdit, utcnow
from memgpt.store import Store


class MemoryEditError(Exception):
    """An edit the agent asked for cannot be made; the text tells it what to do instead."""


def render(state: AgentState) -> str:
    """The working context as the model sees it, each block with its size and limit."""
    parts = []
    for b in state.blocks:
        about = f" ({b.description})" if b.description else ""
        parts.append(
            f'<{b.label} characters="{len(b.value)}/{b.limit}">{about}\n{b.value}\n</{b.label}>'
        )
    return "\n".join(parts)


def _block(state: AgentState, label: str) -> Block:
    try:
        return state.block(label)
    except KeyError:
        labels = ", ".join(b.label for b in state.blocks)
        raise MemoryEditError(f"There is no block {label!r}; the blocks are: {labels}.") from None


def check_limit(block: Block, new_value: str) -> None:
    """MemoryEditError if the block cannot hold `new_value`."""
    if len(new_value) > block.limit:
        raise MemoryEditError(
            f"Block {block.label!r} would hold {len(new_value)} characters, over its limit of "
            f"{block.limit}; shorten it, replace old content, or move details to archival memory."
        )


def _apply(state: AgentState, label: str, new_value: str, actor: str) -> BlockEdit:
    block = _block(state, label)
    check_limit(block, new_value)
    edit = BlockEdit(
        block_id=block.id,
        agent_id=state.id,
        label=label,
        old_value=block.value,
        new_value=new_value,
        actor=actor,
    )
    block.value = new_value
    state.memory_edited_at = edit.created_at = utcnow()
    return edit


def append(state: AgentState, label: str, content: str, actor: str = "agent") -> BlockEdit:
    block_value = _block(state, label).value
    joined = f"{block_value}\n{content}" if block_value else content
    return _apply(state, label, joined, actor)


def replace(state: AgentState, label: str, old: str, new: str, actor: str = "agent") -> BlockEdit:
    value = _block(state, label).value
    if not old:
        raise MemoryEditError("old_content is empty; quote the exact text to replace.")
    if old not in value:
        raise MemoryEditError(
            f"{old!r} is not in block {label!r}; quote the exact current text to replace."
        )
    return _apply(state, label, value.replace(old, new), actor)


def set_value(state: AgentState, label: str, value: str, actor: str = "user") -> BlockEdit:
    return _apply(state, label, value, actor)


def set_shared(store: Store, block_id: str, value: str, agent_id: str | None = None) -> BlockEdit:
    """Set a block's text as the user, recorded in its history with the agent whose memory
    was edited (None: the block itself); every agent sharing it sees it at its next step."""
    with store.transaction():
        block = store.lock_block(block_id)
        if block is None:
            raise MemoryEditError(f"There is no block {block_id!r}.")
        check_limit(block, value)
        edit = BlockEdit(
            block_id=block_id,
            agent_id=agent_id,
            label=block.label,
            old_value=block.value,
            new_value=value,
            actor="user",
        )
        store.apply_block_edit(edit)
    return edit
