"""Sending messages (whole, or streamed as server-sent events) and listing them.

A retried POST must not become a second message (the 1.x SDK retries POSTs): a request
carrying an `Idempotency-Key` header, or messages with client-chosen `otid`s, gets the
first request's answer back instead of running again.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Request
from fastapi.responses import StreamingResponse

from memgpt.errors import MemGPTError
from memgpt.server.deps import Caller, Count, Service, Steps, is_sdk_1x
from memgpt.server.requests import ResetMessages, SendMessage, UpdateMessage
from memgpt.server.steps import sse

router = APIRouter(prefix="/v1/agents/{agent_id}", tags=["messages"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


@router.get("/messages")
def list_messages(
    agent_id: str,
    request: Request,
    p: Caller,
    service: Service,
    after: str | None = None,
    before: str | None = None,
    limit: Count = 100,
    order: Literal["asc", "desc"] | None = None,
) -> list[dict[str, Any]]:
    # Letta 0.16 (the 1.x line) lists newest first by default, 0.11 oldest first.
    descending = order == "desc" if order else is_sdk_1x(request)
    return service.list_messages(
        p, agent_id, after=after, before=before, limit=limit, descending=descending
    )


async def _send(
    request: Request,
    agent_id: str,
    body: SendMessage,
    key: str | None,
    p,
    service,
    steps,
    *,
    stream: bool,
):
    # 404 before a stream starts, not inside it. Checked on the event loop (one indexed
    # read): a hop to a thread here could let a later request overtake this one.
    service.owner(p, agent_id)
    send = partial(
        service.send,
        p,
        agent_id,
        body.text(),
        idempotency_key=key or body.otid(),
        max_steps=body.max_steps,
    )

    def work(on_messages, on_delta=None):
        return send(on_messages=on_messages, on_delta=on_delta)

    if not stream:
        return await steps.call(agent_id, work)
    ping_s = request.app.state.settings.ping_interval_s if body.include_pings else None
    events = steps.stream(agent_id, work, tokens=body.stream_tokens, ping_s=ping_s)
    return StreamingResponse(sse(events), media_type="text/event-stream")


@router.post("/messages")
async def send_message(
    agent_id: str,
    body: SendMessage,
    request: Request,
    p: Caller,
    service: Service,
    steps: Steps,
    key: IdempotencyKey = None,
):
    return await _send(request, agent_id, body, key, p, service, steps, stream=body.streaming)


@router.post("/messages/stream")
async def stream_message(
    agent_id: str,
    body: SendMessage,
    request: Request,
    p: Caller,
    service: Service,
    steps: Steps,
    key: IdempotencyKey = None,
):
    return await _send(request, agent_id, body, key, p, service, steps, stream=True)


@router.patch("/reset-messages")
def reset_messages(
    agent_id: str,
    p: Caller,
    service: Service,
    body: Annotated[ResetMessages | None, Body()] = None,
    add_default_initial_messages: bool = False,  # 0.1.x sends it in the query
) -> dict[str, Any]:
    """Start the conversation afresh: every message leaves main context and the summary is
    emptied. Recall storage keeps them all (memgpt never forgets a message)."""
    if add_default_initial_messages or (body and body.add_default_initial_messages):
        # Letta starts again with its greeting; memgpt agents start with no messages.
        raise MemGPTError(
            "memgpt agents start with no messages; reset without add_default_initial_messages."
        )
    return service.reset_messages(p, agent_id)


@router.patch("/messages/{message_id}")
def edit_message(
    agent_id: str, message_id: str, body: UpdateMessage, p: Caller, service: Service
) -> dict[str, Any]:
    """Edit a message in main context, as /rewrite does: it is replaced by an edited copy
    with a new id, and recall storage keeps both."""
    return service.edit_message(p, agent_id, message_id, body)


@router.delete("/messages/{message_id}")
def take_out_message(
    agent_id: str, message_id: str, p: Caller, service: Service
) -> list[dict[str, Any]]:
    """memgpt's own route, as /pop for one step anywhere in view: the step holding the
    message leaves main context; recall storage keeps it. Returns the step's messages."""
    return service.take_out_message(p, agent_id, message_id)
