"""The sleep-time memory agent: a companion sharing its main agent's working context
blocks that, between the main agent's turns, reads the recent conversation and
reorganizes that memory (consolidates, corrects, files details into archival storage).

It is an agent of its own, with its own lock, so it never holds up the main agent's
steps; the blocks' row locks keep the two from losing each other's edits, and each edit
it makes is in the block's history under its id.
"""

from __future__ import annotations

from memgpt.agent import events
from memgpt.agent.agent import Agent
from memgpt.schemas import AgentState, Message, Response, sent_texts
from memgpt.store import Store

# What it may do: edit the shared blocks and file into (and search) archival storage.
FUNCTIONS = [
    "core_memory_append",
    "core_memory_replace",
    "archival_memory_insert",
    "archival_memory_search",
]
RECENT = 40  # the most messages one run reads: the newest unread ones
# ...and the most characters of them, newest kept, each message cut to LINE_CHARS: the
# run's event must fit a small window beside the blocks it reorganizes.
TRANSCRIPT_CHARS = 4000
LINE_CHARS = 400

SYSTEM = """You are the sleep-time memory agent of another agent. You share its working \
context blocks: what you write there, it sees at its next step. You never talk to the \
user. Each time you wake, a system alert holds the conversation the other agent had \
since you last looked. Reorganize the shared blocks from it: add what is new and \
lasting, merge duplicates, correct what the conversation contradicts, and keep each \
block concise; move details that need not always be in view into archival memory \
(archival_memory_insert). Call one function per step with request_heartbeat true to \
go on; call one without it when memory is in order."""


def companion_state(main: AgentState) -> AgentState:
    """A new sleep-time agent for `main`: the same blocks (shared), model and embedding."""
    return AgentState(
        name=f"{main.name}-sleeptime",
        system=SYSTEM,
        blocks=main.blocks,
        llm=main.llm,
        embedding=main.embedding,
        tool_names=FUNCTIONS,
        sleeptime_of=main.id,
    )


def unread(store: Store, companion: AgentState) -> list[Message]:
    """The main agent's newest messages the companion has not read, oldest first."""
    assert companion.sleeptime_of is not None
    newest = store.messages_page(
        companion.sleeptime_of,
        after_seq=companion.sleeptime_read_seq,
        limit=RECENT,
        newest_first=True,
    )
    return newest[::-1]


def user_turns(messages: list[Message]) -> int:
    return sum(m.event == "user_message" for m in messages)


def transcript(messages: list[Message]) -> str:
    lines = []
    for m in messages:
        if m.event == "user_message":
            lines.append(f"user: {m.text}"[:LINE_CHARS])
        elif m.role == "assistant":
            lines += [f"assistant: {text}"[:LINE_CHARS] for text in sent_texts(m)]
    kept, size = [], 0
    for line in reversed(lines):
        size += len(line) + 1
        if size > TRANSCRIPT_CHARS:
            break
        kept.append(line)
    return "The conversation since you last looked:\n" + "\n".join(reversed(kept))


def reorganize(companion: Agent) -> Response | None:
    """One run: read what the main agent heard and said since the last run and tidy the
    shared memory. None when there was nothing new (or nothing anyone said)."""
    with companion._exclusive():  # one run at a time; the main agent goes on meanwhile
        companion._reload()
        recent = unread(companion.store, companion.state)
        if not recent:
            return None
        response = None
        if user_turns(recent):
            response = companion.process(events.system_alert(transcript(recent)))
        companion.state.sleeptime_read_seq = recent[-1].seq
        companion.store.save_agent(companion.state)
        return response
