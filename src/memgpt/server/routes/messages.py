"""Sending messages (whole, or streamed as server-sent events) and listing them.

A retried POST must not become a second message (the 1.x SDK retries POSTs): a request
carrying an `Idempotency-Key` header, or messages with client-chosen `otid`s, gets the
first request's answer back instead of running again.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from memgpt.server.deps import Caller, Count, Service, Steps, is_sdk_1x
from memgpt.server.requests import SendMessage
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
