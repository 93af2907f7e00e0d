"""Functions for agents that talk to agents: Letta's multi-agent tool set, by its names
and arguments. An agent has them only when they are attached to it.

The functions reach other agents through the `Messenger` the agent was opened with (the
server gives each agent one scoped to its organization); without one they fail with a
sentence saying so. Refusals (unknown agent, a loop, too deep, too many) are failed
results the model reads.
"""

from __future__ import annotations

import json
from typing import Protocol

from memgpt.errors import MemGPTError
from memgpt.tools.base import FunctionContext
from memgpt.tools.schema import Function, function_from_callable

NO_RESPONSE = "<no response>"


class MessagingError(MemGPTError):
    """A message to another agent that cannot be delivered; one sentence for the model."""


class Messenger(Protocol):
    def ask(self, sender: str, other_agent_id: str, message: str) -> list[str]:
        """Deliver `message` and process it to the end; the texts the other agent sent."""
        ...

    def tell(self, sender: str, other_agent_id: str, message: str) -> None:
        """Deliver `message` to be processed in the background."""
        ...

    def matching(self, sender: str, match_all: list[str], match_some: list[str]) -> list[str]:
        """Ids of the other agents with every tag of `match_all` and one of `match_some`."""
        ...


def _messenger(ctx: FunctionContext) -> Messenger:
    if ctx.messenger is None:
        raise MessagingError("Messaging other agents is not available here; answer yourself.")
    return ctx.messenger


def _reply(other_agent_id: str, texts: list[str]) -> dict[str, object]:
    return {"agent_id": other_agent_id, "response": texts or [NO_RESPONSE]}


def send_message_to_agent_and_wait_for_reply(
    ctx: FunctionContext, message: str, other_agent_id: str
) -> str:
    """Send a message to another agent of your organization and wait for its reply. It is told who sent it.

    Args:
        message: The message for the other agent.
        other_agent_id: The other agent's id.
    """
    texts = _messenger(ctx).ask(ctx.state.id, other_agent_id, message)
    return json.dumps(_reply(other_agent_id, texts), ensure_ascii=False)


def send_message_to_agent_async(ctx: FunctionContext, message: str, other_agent_id: str) -> str:
    """Send a message to another agent of your organization without waiting for a reply (a notification).

    Args:
        message: The message for the other agent.
        other_agent_id: The other agent's id.
    """
    _messenger(ctx).tell(ctx.state.id, other_agent_id, message)
    return "Successfully sent message"


def send_message_to_agents_matching_tags(
    ctx: FunctionContext, message: str, match_all: list[str], match_some: list[str]
) -> str:
    """Send a message to every agent of your organization with all tags in match_all and at least one in match_some, and collect their replies.

    Args:
        message: The message for each agent.
        match_all: Tags an agent must all have (empty: no condition).
        match_some: Tags of which an agent must have one (empty: no condition).
    """
    messenger = _messenger(ctx)
    replies = []
    for other in messenger.matching(ctx.state.id, match_all, match_some):
        try:
            replies.append(_reply(other, messenger.ask(ctx.state.id, other, message)))
        except MessagingError as exc:
            replies.append({"agent_id": other, "response": [f"<error: {exc}>"]})
    return json.dumps(replies, ensure_ascii=False)


MULTI_AGENT_FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in [
        function_from_callable(send_message_to_agent_and_wait_for_reply),
        function_from_callable(send_message_to_agent_async),
        function_from_callable(send_message_to_agents_matching_tags),
    ]
}
