"""Human approval: a function the tool rules mark `requires_approval` does not run when
the model calls it. The step commits the call alone (no result) and the chain stops with
stop reason requires_approval; nothing else is processed until the user answers. An
approval runs the function and the chain goes on from its result; a denial becomes the
function's failed result, with the user's reason, and the chain goes on from that.

The pending state is what recall storage holds, so it survives a restart: the newest
assistant message in main context has a call marked `asked_approval` and no result yet.
The user's answer is kept in recall storage as an event of its own (out of main context:
the model sees the result, not the answer).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import BaseModel

from memgpt.errors import MemGPTError
from memgpt.schemas import EventType, Message, Response, ToolCall
from memgpt.tools.schema import ArgumentError

if TYPE_CHECKING:
    from memgpt.agent.agent import OnStepDelta
    from memgpt.tools.rules import Chain

DENIED = "Error: request to call tool denied. User reason: {}"  # Letta's words


class Answer(BaseModel):
    """The user's answer to the request `request_id`: the approval request message's id,
    or the id of the call it asks about (Letta's two ways of naming it)."""

    request_id: str
    approve: bool
    reason: str | None = None


class ApprovalError(MemGPTError):
    """An answer with no request waiting, or naming another; or a message while one waits."""


def asked(call: ToolCall) -> ToolCall:
    """The call, marked as put to the user for approval."""
    return call.model_copy(update={"asked_approval": True})


def pending(queue: list[Message]) -> Message | None:
    """The assistant message whose call waits for the user's answer, if one does."""
    for index in range(len(queue) - 1, -1, -1):
        message = queue[index]
        if message.role != "assistant":
            continue
        if not message.tool_calls or not message.tool_calls[0].asked_approval:
            return None
        call_id = message.tool_calls[0].id
        answered = any(m.tool_call_id == call_id for m in queue[index + 1 :])
        return None if answered else message
    return None


def check(answer: Answer | None, waiting: Message | None, agent_id: str) -> None:
    """ApprovalError unless the answer, or its absence, fits what is waiting."""
    if answer is None and waiting is not None:
        raise ApprovalError(
            f"Agent {agent_id!r} is waiting for approval of a {waiting.tool_calls[0].name} call "
            f"(approval_request_id {waiting.id!r}); approve or deny it before sending a new "
            "message."
        )
    if answer is not None and waiting is None:
        raise ApprovalError(
            f"No tool call of agent {agent_id!r} is waiting for approval; send a regular "
            "message instead."
        )
    if answer is not None and answer.request_id not in (waiting.id, waiting.tool_calls[0].id):
        raise ApprovalError(
            f"Invalid approval request ID {answer.request_id!r}: agent {agent_id!r} is waiting "
            f"for approval of request {waiting.id!r}; answer that one."
        )


def response_event(waiting: Message, answer: Answer) -> Message:
    """The user's answer as kept in recall storage (Letta's approval_response_message)."""
    packet = {
        "approval_request_id": waiting.id,
        "tool_call_id": waiting.tool_calls[0].id,
        "approve": answer.approve,
        "reason": answer.reason,
    }
    return Message(role="user", event=EventType.APPROVAL, text=json.dumps(packet), in_context=False)


def denied(answer: Answer) -> str:
    return DENIED.format(answer.reason or "none given")


class Approvals:
    """Mixed into `Agent`: the user's side of approval, and which calls wait for it."""

    def pending_approval(self) -> Message | None:
        """The assistant message whose call waits for the user's approval, if one does."""
        with self._exclusive():
            self._reload()
            return pending(self.queue)

    def approve(
        self,
        on_step: Callable[[list[Message]], None] | None = None,
        on_delta: OnStepDelta | None = None,
    ) -> Response:
        """Run the call waiting for approval; the chain goes on from its result."""
        return self._answer(True, None, on_step, on_delta)

    def deny(
        self,
        reason: str | None = None,
        on_step: Callable[[list[Message]], None] | None = None,
        on_delta: OnStepDelta | None = None,
    ) -> Response:
        """Refuse the call waiting for approval: the model sees it failed, with `reason`."""
        return self._answer(False, reason, on_step, on_delta)

    def _answer(
        self,
        approve: bool,
        reason: str | None,
        on_step: Callable[[list[Message]], None] | None,
        on_delta: OnStepDelta | None,
    ) -> Response:
        waiting = self.pending_approval()
        request_id = waiting.id if waiting else ""  # none waiting: process says so
        answer = Answer(request_id=request_id, approve=approve, reason=reason)
        return self.process(None, on_step, on_delta, answer=answer)

    def _needs_approval(self, call: ToolCall, chain: Chain) -> bool:
        """Whether the call is one the rules allow now and put to the user first; a call
        that would fail anyway (unknown, refused, bad arguments) fails as usual."""
        function = self.functions.get(call.name)
        if function is None or not chain.requires_approval(call.name):
            return False
        if call.name not in chain.allowed():
            return False
        try:
            function.parse(call.arguments)
        except ArgumentError:
            return False
        return True
