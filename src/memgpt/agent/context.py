"""The context compiler: main context as the model sees it, counted section by section.

Main context is laid out from stable to volatile (DESIGN invariant 7), so that a
step's prompt shares all but its tail with the previous step's and every prefix
cache (llama.cpp, vLLM, OpenAI, Anthropic) reads only what is new:

1. system instructions (a system message; backends put the function schemas
   right after it), changed only by the user;
2. working context, the open files and the recursive summary (a second system
   message), changed by a memory edit, an opened file or an eviction;
3. the FIFO queue, which only grows between evictions;
4. memory statistics, which change every step, inside the newest event's packet.

An event keeps the statistics it was first shown with (`Message.memory_statistics`) and
shows them at every later step, so the next prompt repeats this one up to the model's
reply: a step reads only the function's result and the new event.

Counts use the model's tokenizer (or its safe upper bound) plus a per-message
allowance for the chat template, so the total is never below what the model
will count.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from memgpt.agent import events
from memgpt.llm.base import ChatMessage, FunctionSchema
from memgpt.memory import files, working
from memgpt.schemas import AgentState, Message

MESSAGE_OVERHEAD = 8  # role markers and separators a chat template adds per message
FUNCTIONS_OVERHEAD = 32  # the wrapper a provider puts around function schemas

Counter = Callable[[str], int]


@dataclass
class MainContext:
    messages: list[ChatMessage]
    sections: dict[str, int]
    window: int
    budget: int  # the window less the room kept for the model's reply
    statistics: str  # what the newest packet carries, for its event to keep

    @property
    def total(self) -> int:
        return sum(self.sections.values())

    @property
    def fraction(self) -> float:
        return self.total / self.budget


def memory_statistics(recall_count: int, archival_count: int) -> str:
    # Short: every event in the queue keeps a copy. The instructions name the search
    # functions. When working context was edited is told with it (`working_context`).
    return f"{recall_count} messages in recall, {archival_count} passages in archival"


def working_context(state: AgentState) -> str:
    """The working context section, headed by when it was last edited: the time changes
    only with the section itself, so it costs a prefix cache nothing at other steps."""
    edited = state.memory_edited_at.strftime(events.TIME_FORMAT)
    return f"### Working context (edited {edited})\n" + working.render(state)


def with_statistics(queue: list[ChatMessage], statistics: str | None) -> list[ChatMessage]:
    """The queue with `statistics` last in its newest packet (an event or a function
    result) in place of any its event kept, or as a note of their own after a queue that
    ends otherwise. None: the newest packet without statistics."""
    newest = queue[-1] if queue else None
    packet = None
    if newest is not None and newest.role in ("user", "tool"):
        # A tool result imported from an agent file can be any text.
        with contextlib.suppress(ValueError):
            packet = json.loads(newest.content)
    if isinstance(packet, dict):
        packet.pop("memory_statistics", None)
        if statistics is not None:
            packet["memory_statistics"] = statistics
        content = json.dumps(packet, ensure_ascii=False)
        return [*queue[:-1], newest.model_copy(update={"content": content})]
    if statistics is None:
        return queue
    note = json.dumps({"type": "system_note", "memory_statistics": statistics})
    return [*queue, ChatMessage(role="user", content=note)]


def to_chat(message: Message) -> ChatMessage:
    if message.role == "user":
        return ChatMessage(role="user", content=events.pack(message, message.memory_statistics))
    if message.role == "assistant":
        return ChatMessage(role="assistant", content=message.text, tool_calls=message.tool_calls)
    return ChatMessage(
        role="tool", content=message.text, tool_call_id=message.tool_call_id, name=message.name
    )


def message_tokens(chat: ChatMessage, count: Counter) -> int:
    calls = json.dumps([c.model_dump() for c in chat.tool_calls]) if chat.tool_calls else ""
    return count(chat.content) + (count(calls) if calls else 0) + MESSAGE_OVERHEAD


def functions_tokens(functions: list[FunctionSchema], count: Counter) -> int:
    return count(json.dumps(functions)) + FUNCTIONS_OVERHEAD if functions else 0


def compile_main_context(
    state: AgentState,
    queue: list[ChatMessage],
    queue_tokens: list[int],
    *,
    recall_count: int,
    archival_count: int,
    functions: list[FunctionSchema],
    count: Counter,
) -> MainContext:
    """Build the prompt from the queue, already in chat form with each message's token count
    (the caller caches both, so a long queue is not converted and counted every step)."""
    instructions = ChatMessage(role="system", content=state.system)
    parts = {
        "working_context": working_context(state),
        "open_files": files.render(state),
        "summary": "### Summary of earlier conversation\n" + state.summary if state.summary else "",
    }
    memory = ChatMessage(role="system", content="\n\n".join(p for p in parts.values() if p))
    summary = count(parts["summary"])
    open_files = count(parts["open_files"])
    statistics = memory_statistics(recall_count, archival_count)
    # The newest packet shows the current statistics in place of any its event kept (an
    # event whose model call failed is stored, and shown again when answered).
    newest = with_statistics(queue[-1:], None)
    newest_tokens = (
        queue_tokens[-1:] if newest == queue[-1:] else [message_tokens(m, count) for m in newest]
    )
    tail = with_statistics(newest, statistics)
    sections = {
        "system_instructions": message_tokens(instructions, count),
        "functions": functions_tokens(functions, count),
        # The separators and the message's own overhead are charged to the working context.
        "working_context": message_tokens(memory, count) - summary - open_files,
        "open_files": open_files,
        "summary": summary,
        # Older events' kept statistics are the queue's; the newest packet's are theirs.
        "queue": sum(queue_tokens[:-1]) + sum(newest_tokens),
        "memory_statistics": sum(message_tokens(m, count) for m in tail) - sum(newest_tokens),
    }
    window = state.llm.context_window
    return MainContext(
        messages=[instructions, memory, *queue[:-1], *tail],
        sections=sections,
        window=window,
        budget=window - state.llm.max_output_tokens,
        statistics=statistics,
    )
