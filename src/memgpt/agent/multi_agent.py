"""Agents talking to agents: delivering one agent's message to another as an event.

An agent waiting for a reply holds its own lock while the other agent processes the
message in the same thread, so an exchange is bounded before it starts: no agent already
waiting in the exchange is asked again (A asks B asks A would deadlock), an exchange is
at most `depth` messages deep (async ones included, so two agents notifying each other
stop), a tag broadcast reaches at most `fan_out` agents, and a busy agent is waited for
at most `lock_wait_s`. Each refusal is a failed result the asking agent reads. The
message is an event in the receiver's recall storage; the call and the reply are in the
sender's.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass

from memgpt.agent import events
from memgpt.agent.agent import Agent, agent_lock
from memgpt.schemas import Message
from memgpt.tools.multi_agent import MessagingError

log = logging.getLogger(__name__)

# The agents of the exchange this thread is processing, first sender first.
_exchange: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "agent_exchange", default=()
)

WAITING = "your response will be delivered to the sender"
ONE_WAY = (
    "this is a one-way notification; to answer, use send_message_to_agent_async if you have it"
)


@dataclass(frozen=True)
class MessagingLimits:
    depth: int = 3  # messages in one exchange: A asks B asks C is 2
    fan_out: int = 8  # agents one tag broadcast may reach
    lock_wait_s: float = 30.0  # how long to wait for a busy agent


def incoming(sender: str, message: str, note: str) -> Message:
    """The event another agent's message becomes, saying who sent it (Letta's wording)."""
    return events.user_message(
        f"[Incoming message from agent with ID '{sender}' - {note}] {message}"
    )


class AgentMessenger:
    """A `Messenger` over the agents `open_agent` can open (one organization's, on the
    server); `tagged` lists those agents' ids with their tags; `pool` runs async deliveries."""

    def __init__(
        self,
        open_agent: Callable[[str], Agent | None],
        tagged: Callable[[], Iterable[tuple[str, list[str]]]],
        pool: Executor,
        limits: MessagingLimits = MessagingLimits(),
    ):
        self._open_agent, self._tagged, self._pool, self.limits = open_agent, tagged, pool, limits

    def ask(self, sender: str, other_agent_id: str, message: str) -> list[str]:
        exchange = self._extend(sender, other_agent_id, waiting=True)
        other = self._open(other_agent_id)
        lock = agent_lock(other_agent_id)
        if not lock.acquire(timeout=self.limits.lock_wait_s):
            raise MessagingError(
                f"Agent {other_agent_id} is busy; try again later, or send without waiting."
            )
        token = _exchange.set(exchange)
        try:
            return other.process(incoming(sender, message, WAITING)).sent
        finally:
            _exchange.reset(token)
            lock.release()

    def tell(self, sender: str, other_agent_id: str, message: str) -> None:
        exchange = self._extend(sender, other_agent_id, waiting=False)
        other = self._open(other_agent_id)
        event = incoming(sender, message, ONE_WAY)

        def deliver() -> None:
            _exchange.set(exchange)  # this pool thread's own context, copied below
            try:
                other.process(event)
            except Exception:  # nobody waits for it: the log is where a failure goes
                log.exception("agent %s: a message from agent %s failed", other_agent_id, sender)

        self._pool.submit(contextvars.copy_context().run, deliver)

    def matching(self, sender: str, match_all: list[str], match_some: list[str]) -> list[str]:
        found = [
            agent_id
            for agent_id, tags in self._tagged()
            if agent_id != sender
            and all(t in tags for t in match_all)
            and (not match_some or any(t in tags for t in match_some))
        ]
        if len(found) > self.limits.fan_out:
            raise MessagingError(
                f"{len(found)} agents match those tags, but one message may reach at most "
                f"{self.limits.fan_out}; choose narrower tags."
            )
        return found

    def _extend(self, sender: str, other: str, *, waiting: bool) -> tuple[str, ...]:
        exchange = _exchange.get()
        if not exchange or exchange[-1] != sender:
            exchange = (sender,)
        if waiting and other in exchange:
            raise MessagingError(
                f"Agent {other} is already waiting in this exchange ({' -> '.join(exchange)}); "
                "asking it again would never end. Answer with what you know."
            )
        if len(exchange) > self.limits.depth:
            raise MessagingError(
                f"This exchange between agents is already {len(exchange) - 1} messages deep, "
                f"the most allowed; answer with what you know instead."
            )
        return (*exchange, other)

    def _open(self, agent_id: str) -> Agent:
        other = self._open_agent(agent_id)
        if other is None:
            raise MessagingError(f"There is no agent {agent_id!r} in your organization.")
        return other
