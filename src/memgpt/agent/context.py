"""The context compiler: main context as the model sees it, counted section by section.

Main context = system instructions + working context + memory statistics +
recursive summary (one system message), then the FIFO queue. Counts use the
model's tokenizer (or its safe upper bound) plus a per-message allowance for
the chat template, so the total is never below what the model will count.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from memgpt.agent import events
from memgpt.llm.base import ChatMessage, FunctionSchema
from memgpt.memory import working
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

    @property
    def total(self) -> int:
        return sum(self.sections.values())

    @property
    def fraction(self) -> float:
        return self.total / self.budget


def memory_statistics(state: AgentState, recall_count: int, archival_count: int) -> str:
    return (
        f"{recall_count} messages in recall storage (search them with conversation_search); "
        f"{archival_count} passages in archival storage (archival_memory_search). "
        f"Working context last edited {state.memory_edited_at.strftime('%Y-%m-%d %H:%M:%S UTC')}."
    )


def to_chat(message: Message) -> ChatMessage:
    if message.role == "user":
        return ChatMessage(role="user", content=events.pack(message))
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
    parts = {
        "system_instructions": state.system,
        "working_context": "### Working context\n" + working.render(state),
        "memory_statistics": "### Memory statistics\n"
        + memory_statistics(state, recall_count, archival_count),
        "summary": "### Summary of earlier conversation\n" + state.summary if state.summary else "",
    }
    system = ChatMessage(role="system", content="\n\n".join(p for p in parts.values() if p))
    sections = {name: count(text) for name, text in parts.items()}
    # The separators joining the parts count too: charge the difference to the instructions.
    sections["system_instructions"] += message_tokens(system, count) - sum(sections.values())
    sections["functions"] = functions_tokens(functions, count)
    sections["queue"] = sum(queue_tokens)
    window = state.llm.context_window
    return MainContext(
        messages=[system, *queue],
        sections=sections,
        window=window,
        budget=window - state.llm.max_output_tokens,
    )
