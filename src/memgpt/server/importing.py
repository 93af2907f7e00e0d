"""Writing a checked agent file without stalling other organizations (DESIGN invariant 9).

A file's history can hold 100k messages: written in one transaction, it would hold
SQLite's one write lock for seconds, and every other organization's messages would wait.
So each agent is written hidden (no organization owns it, the store does not list it),
its history in short batches with pauses that let other writers in, and one last small
transaction saves the new tools and gives the organization every agent at once: clients
see the whole file imported or nothing. An import that fails deletes what it wrote; one a
crash cut short is deleted on the next start (`Store.drop_unfinished_imports`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

from memgpt.schemas import AgentState, Message
from memgpt.server.auth import Principal
from memgpt.server.errors import ConflictError
from memgpt.server.requests import CreateAgent
from memgpt.server.service import AgentService
from memgpt.store import Store
from memgpt.store.accounts import AgentOwner, UserTool

# A batch is a few milliseconds of writing here (about 0.14 ms a message). The pause after
# it lets other writers in: this process's queue on the store's lock, another process's
# get in at its busy handler's next try.
BATCH_MESSAGES = 40
BATCH_CHARS = 200_000
PAUSE_S = 0.005


@dataclass
class PlannedAgent:
    """One agent of a checked file."""

    request: CreateAgent
    finish: Callable[[AgentState], None]  # sets what a create request cannot (rules, summary)
    history: Iterator[Message]  # read (and checked) a batch at a time, as it is written


def write_agents(
    service: AgentService, p: Principal, agents: list[PlannedAgent], new_tools: list[UserTool]
) -> list[str]:
    """Create the agents hidden, write their histories in batches, then show them all with
    the new tools at once; return their ids."""
    store = service.store
    begun: list[AgentOwner] = []
    with ExitStack() as held:
        try:
            for planned in agents:
                with store.transaction():
                    owner = service.new_agent(p, planned.request, owned=False)
                    # Held until the import ends, from before the mark is visible: a
                    # starting server's cleanup waits for a live import rather than drop it.
                    held.enter_context(store.agent_lock(owner.agent_id))
                    store.begin_import(owner.agent_id)
                    begun.append(owner)
                    state = store.get_agent(owner.agent_id)
                    assert state is not None  # written above, in this transaction
                    planned.finish(state)
                    store.save_agent(state)
            for owner, planned in zip(begun, agents, strict=True):
                _write_history(store, owner.agent_id, planned.history)
            with store.transaction():  # durable: it flushes the batches too
                for tool in new_tools:
                    _save_new_tool(service, tool)
                for owner in begun:
                    service.accounts.set_agent_owner(owner)
                    store.finish_import(owner.agent_id)
        except BaseException:
            for owner in begun:
                # A cleanup that fails too (the database gone) is left to the next start.
                with contextlib.suppress(Exception):
                    store.drop_import(owner.agent_id)
            raise
    for owner in begun:
        service.forget(owner.agent_id)
    return [owner.agent_id for owner in begun]


def _write_history(store: Store, agent_id: str, history: Iterator[Message]) -> None:
    """Each batch in a transaction of its own, then a pause as long as the batch took (or
    PAUSE_S): the import takes at most half of the write lock and of the interpreter."""
    batches = _batches(history)
    while True:
        started = time.monotonic()
        batch = next(batches, None)
        if batch is None:
            return
        with store.unsynced_transaction():
            store.append_messages(agent_id, batch)
        time.sleep(max(PAUSE_S, time.monotonic() - started))


def _batches(history: Iterator[Message]) -> Iterator[list[Message]]:
    batch: list[Message] = []
    chars = 0
    for message in history:
        if batch and (len(batch) == BATCH_MESSAGES or chars + len(message.text) > BATCH_CHARS):
            yield batch
            batch, chars = [], 0
        batch.append(message)
        chars += len(message.text)
    if batch:
        yield batch


def _save_new_tool(service: AgentService, tool: UserTool) -> None:
    """Save a tool the organization lacked when the file was checked, unless the same
    code arrived meanwhile; other code under its name is a conflict, as at the check."""
    have = service.accounts.get_tool(tool.organization_id, tool.name)
    if have is None:
        service.accounts.save_tool(tool)
    elif have.source_code != tool.source_code:
        raise ConflictError(
            f"The agent file's tool {tool.name!r} differs from this organization's tool of "
            "that name, added during the import; rename one, then import again."
        )
