"""The conversation as the server serves it: a message processed once per idempotency
key (an answer rebuilt from recall storage when a server died before saving it), the
user's answers to calls waiting for approval checked before any work, and the history
read in Letta's pages.

Mixed into `AgentService`, whose ownership checks and open agents it uses.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from itertools import takewhile
from typing import TYPE_CHECKING, Any

from memgpt.agent import approval, events
from memgpt.agent.agent import RunContext, agent_lock
from memgpt.agent.approval import Answer
from memgpt.schemas import EventType, Message, StopReason, Usage, failed_calls
from memgpt.server import wire
from memgpt.server.auth import Principal
from memgpt.server.errors import ModelCallError, NotFoundError

if TYPE_CHECKING:
    from memgpt.server.scheduler import Background
    from memgpt.store import Store
    from memgpt.store.accounts import AccountStore

log = logging.getLogger(__name__)

OnMessages = Callable[[list[dict[str, Any]]], None]


class Conversation:
    """Mixed into `AgentService`, whose `owner` and `open` every method starts with: the
    caller's agent, or NotFoundError."""

    store: Store
    accounts: AccountStore
    background: Background

    def list_messages(
        self,
        p: Principal,
        agent_id: str,
        *,
        after: str | None,
        before: str | None,
        limit: int,
        descending: bool,
    ) -> list[dict[str, Any]]:
        """A page of Letta messages: those after `after` and before `before` in the listing's
        order, at most `limit`, whole memgpt messages only (their parts share the id the next
        page starts after). Read by sequence number, a page at a time, never the history."""
        self.owner(p, agent_id)
        after_seq, before_seq = (self._seq(agent_id, cursor) for cursor in (after, before))
        # Newest first, "after" a message means older than it.
        lower, upper = (before_seq, after_seq) if descending else (after_seq, before_seq)
        # Without `after`, "before X" means the page right before X: walk back from X.
        backwards = before is not None and after is None
        walk = _walk(self.store, agent_id, lower, upper, descending != backwards, limit)
        by_message = _fill(self.store, walk, limit)
        if backwards:
            by_message.reverse()
        return [part for parts in by_message for part in parts]

    def _seq(self, agent_id: str, message_id: str | None) -> int | None:
        """A paging cursor's sequence number (None: no cursor)."""
        if message_id is None:
            return None
        seq = self.store.message_seq(agent_id, message_id)
        if seq is None:
            raise NotFoundError(f"There is no message {message_id!r} in agent {agent_id!r}.")
        return seq

    def check_answer(
        self, p: Principal, agent_id: str, answer: Answer | None, key: str | None = None
    ) -> None:
        """Refuse at once a message sent while a call waits for approval, or an answer that
        fits no waiting call; processing checks again under the agent's lock. One indexed
        read of the newest messages (a call and the refusals of calls made with it). A
        retry of a request already answered gets that answer, so it is let through."""
        self.owner(p, agent_id)
        if key and self.accounts.idempotent_response(agent_id, key):
            return
        newest = self.store.messages_page(agent_id, limit=8, newest_first=True)
        in_view = [m for m in reversed(newest) if m.in_context]
        approval.check(answer, approval.pending(in_view), agent_id)

    def send(
        self,
        p: Principal,
        agent_id: str,
        text: str,
        *,
        idempotency_key: str | None = None,
        on_messages: OnMessages | None = None,
        on_delta: OnMessages | None = None,
        max_steps: int | None = None,
        run: RunContext | None = None,
        answer: Answer | None = None,
    ) -> dict[str, Any]:
        """Process one user message, or with `answer` the user's answer to the call waiting
        for approval (`text` is then unused); a repeated idempotency key returns the first
        answer. `on_delta` receives the reply's pieces as the model writes them (token
        streaming). Within `run` (see runs.py), each step is recorded and the messages
        carry their run's and step's ids."""
        return self._send(
            p, agent_id, text, idempotency_key, on_messages, on_delta, max_steps, run, answer
        )

    def _send(
        self,
        p: Principal,
        agent_id: str,
        text: str,
        idempotency_key: str | None,
        on_messages: OnMessages | None,
        on_delta: OnMessages | None,
        max_steps: int | None,
        run: RunContext | None,
        answer: Answer | None,
    ) -> dict[str, Any]:
        agent = self.open(p, agent_id)
        with agent_lock(agent_id):
            if idempotency_key and (done := self._first_answer(agent_id, idempotency_key)):
                if on_messages is not None:
                    on_messages(done["messages"])
                return done

            def on_step(messages: list[Message]) -> None:
                on_messages(wire.in_run(wire.messages(messages, include_events=False), run))

            event: Message | None = None if answer else events.user_message(text)
            if idempotency_key and event is not None:
                event.id = _keyed_message_id(agent_id, idempotency_key)
                if self.store.message_seq(agent_id, event.id) is not None:
                    event = None  # committed by a turn whose model call failed: answer it now

            def on_piece(message_id: str, field: str, text: str) -> None:
                on_delta([wire.delta(message_id, field, text)])

            response = agent.process(
                event,
                on_step if on_messages else None,
                on_piece if on_delta else None,
                max_steps=max_steps,
                run=run,
                answer=answer,
            )
            result = wire.response(
                wire.in_run(wire.messages(response.messages, include_events=False), run),
                response.stop_reason,
                response.usage,
                response.steps,
            )
            if response.stop_reason == StopReason.LLM_ERROR:
                log.warning("agent %s: %s", agent_id, response.error)
                raise ModelCallError(response.error or "The model call failed.", result)
            if idempotency_key:
                self.accounts.save_idempotent_response(
                    agent_id, idempotency_key, json.dumps(result)
                )
        self.background.tidy_memory(agent.state)
        return result

    def _first_answer(self, agent_id: str, key: str) -> dict[str, Any] | None:
        """The answer to an earlier message sent with this key, if there was one. The answer
        is saved after the steps commit; a server killed in between has committed the message
        (its id follows from the key) but saved no answer: rebuild it from the messages the
        steps committed rather than add the message a second time."""
        if done := self.accounts.idempotent_response(agent_id, key):
            return json.loads(done)
        seq = self.store.message_seq(agent_id, _keyed_message_id(agent_id, key))
        if seq is None:
            return None
        walk = _walk(self.store, agent_id, seq - 1, None, False, 50)
        chain = [next(walk), *takewhile(lambda m: m.event != EventType.USER_MESSAGE, walk)]
        steps = sum(m.role == "assistant" for m in chain)
        if steps == 0 and seq == self.store.last_seq(agent_id):
            return None  # the model failed on it, and nothing came after: ask it again
        # The chain stopped with the server, so processing ended there: the agent yielded.
        result = wire.response(
            wire.messages(chain, include_events=False), StopReason.END_TURN, Usage(), steps
        )
        self.accounts.save_idempotent_response(agent_id, key, json.dumps(result))
        return result


def _keyed_message_id(agent_id: str, key: str) -> str:
    return wire.derived_id("message", agent_id, key)


def _failed_sends(store: Store, m: Message) -> frozenset[str]:
    """The send_message calls of an assistant message whose results (the messages right
    after it, committed with it) say they failed: those show as calls, not replies."""
    if m.role != "assistant" or not any(c.name == wire.SEND_MESSAGE for c in m.tool_calls):
        return frozenset()
    return failed_calls(store.messages_page(m.agent_id, after_seq=m.seq, limit=len(m.tool_calls)))


def _walk(
    store: Store,
    agent_id: str,
    lower: int | None,
    upper: int | None,
    newest_first: bool,
    batch: int,
) -> Iterator[Message]:
    """The messages strictly between two sequence numbers, fetched `batch` at a time only
    as the caller reads on (some messages have no Letta parts, so a page may need more)."""
    batch = max(batch, 1)
    while True:
        found = store.messages_page(
            agent_id, after_seq=lower, before_seq=upper, limit=batch, newest_first=newest_first
        )
        yield from found
        if len(found) < batch:
            return
        if newest_first:
            upper = found[-1].seq
        else:
            lower = found[-1].seq


def _fill(store: Store, messages: Iterator[Message], limit: int) -> list[list[dict[str, Any]]]:
    """The Letta parts of each message read, in order, until `limit` parts are filled; a
    message's parts are never split (the first message is kept whatever its size)."""
    by_message: list[list[dict[str, Any]]] = []
    count = 0
    for m in messages:
        if count >= limit:
            break
        parts = wire.messages([m], include_events=True, failed=_failed_sends(store, m))
        if count and count + len(parts) > limit:
            break
        by_message.append(parts)
        count += len(parts)
    return by_message
