"""User actions on the conversation: undo, retry, rethink, rewrite, edit or take out any
message in view, reset, summarize now.

The CLI's slash commands and the server use these. They are mixed into `Agent`, so
they hold its locks and keep its cached queue in step with the store.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

from memgpt.agent import events
from memgpt.agent.summarizer import choose_cut
from memgpt.errors import MemGPTError
from memgpt.llm.base import LLMClient
from memgpt.schemas import EventType, Message, Response, new_id, storable_text


class ConversationActions:
    """Mixed into `Agent`: every method takes the agent's locks and rereads its state first."""

    def pop(self, count: int = 1) -> list[Message]:
        """Undo: take the last `count` messages out of main context, and return them.

        The cut moves back to the event that began their step, so no function call is left
        without its result. The messages stay in recall storage (invariant 3) and memory
        edits they made stay applied (the block history records them).
        """
        if count < 1:
            raise AgentActionError("Give a positive number of messages to pop.")
        with self._exclusive():
            self._reload()
            cut = self._step_start(len(self.queue) - count)
            removed = self.queue[cut:]
            self._take_out(removed)
            return removed

    def retry(self, on_step: Callable[[list[Message]], None] | None = None) -> Response:
        """Undo back to the last user message and send it again for a new answer."""
        with self._exclusive():
            self._reload()
            index = self._last_index(lambda m: m.event == EventType.USER_MESSAGE)
            if index is None:
                raise AgentActionError("There is no user message in view to retry.")
            text = self.queue[index].text
            self._take_out(self.queue[index:])
            return self.send(text, on_step)

    def rethink(self, thoughts: str) -> Message:
        """Replace the inner monologue of the agent's last step; return the amended message."""
        return self._amend_last(_rethought(thoughts), "The agent has no step in view to rethink.")

    def rewrite(self, text: str) -> Message:
        """Replace the text of the last message the agent sent; return the amended message."""
        return self._amend_last(
            _rewritten(text), "The agent has sent no message in view to rewrite."
        )

    def edit(self, message_id: str, part: str, text: str) -> Message:
        """Replace one part of a message in main context: "reasoning" (a step's inner
        monologue, as rethink), "assistant" (what it sent, as rewrite), "user" (a user
        message's words) or "content" (whichever of the last two it has). Return the
        amended message, a copy with a new id."""
        amend = {
            "reasoning": _rethought,
            "assistant": _rewritten,
            "user": _reworded,
            "content": _recontented,
        }[part](text)
        with self._exclusive():
            self._reload()
            index = self._index(message_id)
            new = amend(self.queue[index])
            if new is None:
                raise AgentActionError(f"Message {message_id!r} has no {part} text to edit.")
            return self._replace_from(index, new)

    def take_out(self, message_id: str) -> list[Message]:
        """Undo one step anywhere in view: the step holding the message leaves main context
        (as with pop, recall storage keeps it). Return the messages taken out."""
        with self._exclusive():
            self._reload()
            index = self._index(message_id)
            start = self._step_start(index)
            end = next(
                (i for i in range(index + 1, len(self.queue)) if self.queue[i].role == "user"),
                len(self.queue),
            )
            removed = self.queue[start:end]
            self._take_out(removed)
            return removed

    def reset(self) -> int:
        """Start the conversation afresh: every message leaves main context and the summary
        is emptied; recall storage keeps them all and working context stays. Return how
        many messages left main context."""
        with self._exclusive():
            self._reload()
            count = len(self.queue)
            with self.store.transaction():
                self.state.summary = ""
                self.state.memory_warning_issued = False
                self.store.save_agent(self.state)
                self._take_out(self.queue[:])
            return count

    def summarize_now(self) -> int:
        """Evict the oldest ~half of the queue into the recursive summary now; return how
        many messages left main context."""
        with self._exclusive():
            self._reload()
            tokens = [self._tokens(m) for m in self.queue]
            cut = choose_cut(self.queue, tokens, limit=len(self.queue))
            if cut == 0:
                raise AgentActionError("There is not enough conversation in view to summarize yet.")
            self.evict(cut)
            return cut

    def memory_warning(self, on_step: Callable[[list[Message]], None] | None = None) -> Response:
        """Send the memory-pressure alert now, as if the window were filling up."""
        alert = events.MEMORY_PRESSURE.format(percent=round(100 * self.compile().fraction))
        return self.process(events.system_alert(alert), on_step)

    def set_llm(self, llm: LLMClient) -> None:
        """Move this agent to another model (saved); its memory and history stay as they are."""
        with self._exclusive():
            self._reload()
            self.state.llm = llm.config
            self.store.save_agent(self.state)
            self.llm = llm
            self._count = functools.lru_cache(maxsize=256)(llm.count_tokens)
            self._chats.clear()  # counted with the old model's tokenizer

    def recover_from_interrupt(self) -> None:
        """Make the agent usable after a KeyboardInterrupt cut a step short in this thread.

        Closing this thread's store connection makes the database discard a transaction
        the interrupt may have left open; state and queue are then read back as committed.
        """
        self.store.close()
        self._reload()

    def _step_start(self, index: int) -> int:
        """The start of the step holding queue[index]: the nearest event at or before it."""
        while index > 0 and self.queue[index].role != "user":
            index -= 1
        return max(index, 0)

    def _last_index(self, predicate: Callable[[Message], bool]) -> int | None:
        indices = range(len(self.queue) - 1, -1, -1)
        return next((i for i in indices if predicate(self.queue[i])), None)

    def _index(self, message_id: str) -> int:
        for index, message in enumerate(self.queue):
            if message.id == message_id:
                return index
        raise AgentActionError(
            f"Message {message_id!r} is not in this agent's main context; only messages in "
            "view can be changed."
        )

    def _take_out(self, messages: list[Message]) -> None:
        """Move `messages` (whole steps of the queue) out of main context without summarizing."""
        with self.store.transaction():
            self.store.evict_messages(self.id, [m.id for m in messages])
        gone = {m.id for m in messages}
        self.queue[:] = [m for m in self.queue if m.id not in gone]
        for message in messages:
            self._chats.pop(message.id, None)

    def _amend_last(self, amend: Callable[[Message], Message | None], nothing: str) -> Message:
        """Replace the newest assistant message `amend` accepts, keeping the queue's order:
        the tail from it onward leaves main context and returns as copies (recall keeps both)."""
        with self._exclusive():
            self._reload()
            for index in range(len(self.queue) - 1, -1, -1):
                if self.queue[index].role == "assistant" and (new := amend(self.queue[index])):
                    break
            else:
                raise AgentActionError(nothing)
            return self._replace_from(index, new)

    def _replace_from(self, index: int, new: Message) -> Message:
        """Put `new` in place of queue[index]; the caller holds the locks."""
        tail = self.queue[index:]
        copies = [_fresh_copy(m) for m in [new, *tail[1:]]]
        with self.store.transaction():
            self.store.evict_messages(self.id, [m.id for m in tail])
            self.store.append_messages(self.id, copies)
        self._reload()
        return copies[0]


class AgentActionError(MemGPTError):
    """A user action on the conversation that cannot be done now (nothing to undo, ...)."""


Amend = Callable[[Message], Message | None]


def _rethought(thoughts: str) -> Amend:
    def amend(message: Message) -> Message | None:
        if message.role != "assistant":
            return None
        args = _call_arguments(message)
        if message.text or args is None:
            return message.model_copy(update={"text": thoughts})
        return _with_arguments(message, {**args, "inner_thoughts": thoughts})

    return amend


def _rewritten(text: str) -> Amend:
    def amend(message: Message) -> Message | None:
        args = _call_arguments(message)
        if message.tool_calls[:1] and message.tool_calls[0].name == "send_message" and args:
            return _with_arguments(message, {**args, "message": text})
        return None

    return amend


def _reworded(text: str) -> Amend:
    def amend(message: Message) -> Message | None:
        if message.event != EventType.USER_MESSAGE:
            return None
        return message.model_copy(update={"text": storable_text(text)})

    return amend


def _recontented(text: str) -> Amend:
    def amend(message: Message) -> Message | None:
        return _reworded(text)(message) or _rewritten(text)(message)

    return amend


def _call_arguments(message: Message) -> dict | None:
    """The first call's arguments as a dict, or None when there is no call or they do not parse."""
    if not message.tool_calls:
        return None
    try:
        args = json.loads(message.tool_calls[0].arguments)
    except ValueError:
        return None
    return args if isinstance(args, dict) else None


def _with_arguments(message: Message, args: dict) -> Message:
    text = json.dumps(args, ensure_ascii=False)
    first = message.tool_calls[0].model_copy(update={"arguments": text})
    return message.model_copy(update={"tool_calls": [first, *message.tool_calls[1:]]})


def _fresh_copy(message: Message) -> Message:
    return message.model_copy(update={"id": new_id("message"), "seq": 0, "in_context": True})
