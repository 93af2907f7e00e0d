"""The base functions: the agent's only ways to act on the user and on its own memory.

Each returns text for the function result, or raises an error whose message the
model reads as a failed result and can act on. Docstrings are the descriptions
the model sees, so they speak to the model.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from memgpt.embeddings.base import Embedder
from memgpt.llm.tokens import estimate_tokens
from memgpt.memory import archival, recall, working
from memgpt.schemas import AgentState, BlockEdit, Passage, utcnow
from memgpt.store import Store
from memgpt.tools.schema import Function, function_from_callable

if TYPE_CHECKING:
    from memgpt.tools.multi_agent import Messenger


@dataclass
class FunctionContext:
    """What a function may touch: the agent's state and its external stores."""

    state: AgentState
    store: Store
    embedder: Embedder
    edits: list[BlockEdit] = field(default_factory=list)
    # Passages saved by the step, stored when it commits: a step killed before its commit
    # must leave no passage behind, or the redone step would save it twice.
    passages: list[Passage] = field(default_factory=list)
    messenger: Messenger | None = None  # how this agent reaches other agents, if it may
    count: Callable[[str], int] = estimate_tokens  # the model's token counter, for limits

    # The step's transaction, once an edit begins it; the agent closes it after the commit.
    step: ExitStack = field(default_factory=ExitStack)

    def edit_block(self, label: str, change: Callable[[AgentState], BlockEdit]) -> None:
        """Make a working context edit on the block's newest committed text. The step's
        transaction begins here and holds the block until the step commits, so an edit by
        another agent sharing the block waits, then builds on this one: neither is lost."""
        if not self.edits:  # the first edit begins it; later ones join
            self.step.enter_context(self.store.transaction())
        block = next((b for b in self.state.blocks if b.label == label), None)
        if block is not None and (fresh := self.store.lock_block(block.id)) is not None:
            block.value = fresh.value
        self.edits.append(change(self.state))


def send_message(ctx: FunctionContext, message: str) -> None:
    """Send a message to the user. This is the only way the user hears from you.

    Args:
        message: The message, in your persona's voice.
    """
    # Delivery is the committed call itself: the step's response carries it to the user.


def core_memory_append(ctx: FunctionContext, label: str, content: str) -> None:
    """Append a line to a block of your working context (always in view, limited in size).

    Args:
        label: The block to edit, e.g. "human" or "persona".
        content: The text to add.
    """
    ctx.edit_block(label, lambda state: working.append(state, label, content))


def core_memory_replace(
    ctx: FunctionContext, label: str, old_content: str, new_content: str
) -> None:
    """Replace exact text in a block of your working context. An empty new_content deletes it.

    Args:
        label: The block to edit, e.g. "human" or "persona".
        old_content: The exact text to replace, as it stands in the block.
        new_content: The text to put in its place.
    """
    ctx.edit_block(label, lambda state: working.replace(state, label, old_content, new_content))


def conversation_search(ctx: FunctionContext, query: str, page: int = 0) -> str:
    """Search your whole conversation history (recall storage) by meaning and keywords, best matches first.

    Args:
        query: What to look for.
        page: Which page of results, from 0.
    """
    return recall.search_text(ctx.store, ctx.state.id, query, page, ctx.embedder)


def conversation_search_date(
    ctx: FunctionContext, start_date: str, end_date: str, page: int = 0
) -> str:
    """List conversation history between two dates (inclusive), oldest first.

    Args:
        start_date: First day, as YYYY-MM-DD.
        end_date: Last day, as YYYY-MM-DD.
        page: Which page of results, from 0.
    """
    return recall.search_date(ctx.store, ctx.state.id, start_date, end_date, page)


def archival_memory_insert(ctx: FunctionContext, content: str) -> None:
    """Save a passage to archival memory, your unlimited long-term store, to find later by meaning.

    Args:
        content: The passage to save; make it self-contained.
    """
    ctx.passages.append(archival.make_passage(ctx.embedder, content))


def archival_memory_search(ctx: FunctionContext, query: str, page: int = 0) -> str:
    """Search archival memory (your saved passages and attached documents) by meaning and keywords, best matches first.

    Args:
        query: What to look for.
        page: Which page of results, from 0.
    """
    return archival.search(ctx.store, ctx.embedder, ctx.state.archival_id, query, page)


def pause_heartbeats(ctx: FunctionContext, minutes: int) -> str:
    """Stop timed heartbeats for a while. Messages and other events still wake you.

    Args:
        minutes: How long to pause, at most 360.
    """
    minutes = max(0, min(minutes, 360))
    ctx.state.heartbeats_paused_until = utcnow() + timedelta(minutes=minutes)
    return f"Timed heartbeats paused for {minutes} minutes."


BASE_FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in [
        function_from_callable(send_message, heartbeat=False),
        function_from_callable(core_memory_append),
        function_from_callable(core_memory_replace),
        function_from_callable(conversation_search),
        function_from_callable(conversation_search_date),
        function_from_callable(archival_memory_insert),
        function_from_callable(archival_memory_search),
        function_from_callable(pause_heartbeats, heartbeat=False),
    ]
}
