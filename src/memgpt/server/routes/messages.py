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
from starlette.concurrency import run_in_threadpool

from memgpt.errors import MemGPTError
from memgpt.server import wire
from memgpt.server.deps import Caller, Count, Runs, Service, Steps, is_sdk_1x
from memgpt.server.requests import CancelRuns, ResetMessages, SendMessage, UpdateMessage
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
    runs,
    *,
    stream: bool,
):
    # 404 (or 400 while a call waits for approval) before a stream starts, not inside it.
    # Checked on the event loop (indexed reads): a hop to a thread here could let a later
    # request overtake this one.
    answer, key = body.answer(), key or body.otid()
    service.check_answer(p, agent_id, answer, key)
    send = partial(
        service.send,
        p,
        agent_id,
        "" if answer else body.text(),
        idempotency_key=key,
        max_steps=body.max_steps,
        answer=answer,
    )

    def work(on_messages, on_delta=None):
        # The run begins when the message's turn does, so runs list in the order they ran.
        run = runs.start(p, agent_id)
        return runs.within(run.id, partial(send, on_messages=on_messages, on_delta=on_delta))

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
    runs: Runs,
    key: IdempotencyKey = None,
):
    return await _send(request, agent_id, body, key, p, service, steps, runs, stream=body.streaming)


@router.post("/messages/stream")
async def stream_message(
    agent_id: str,
    body: SendMessage,
    request: Request,
    p: Caller,
    service: Service,
    steps: Steps,
    runs: Runs,
    key: IdempotencyKey = None,
):
    return await _send(request, agent_id, body, key, p, service, steps, runs, stream=True)


@router.post("/messages/async")
async def send_message_async(
    agent_id: str, body: SendMessage, p: Caller, service: Service, runs: Runs
) -> dict[str, Any]:
    """The run at once; the message is processed in the background (see runs.py)."""
    if body.streaming:
        raise MemGPTError("An async message is not streamed; send it without `streaming`.")
    answer = body.answer()
    service.check_answer(p, agent_id, answer)
    runs.admit(p)  # before the run is recorded: a refused message leaves no run behind
    try:
        run = await run_in_threadpool(partial(runs.start, p, agent_id, background=True))
    except BaseException:
        runs.release(p.organization_id)
        raise
    text = "" if answer else body.text()
    send = partial(service.send, p, agent_id, text, max_steps=body.max_steps, answer=answer)

    def work(on_messages, on_delta=None):
        return runs.within(run.id, send)

    runs.in_background(p, run, work)
    return wire.run(run)


@router.post("/messages/cancel")
def cancel_runs(
    agent_id: str,
    p: Caller,
    runs: Runs,
    body: Annotated[CancelRuns | None, Body()] = None,
) -> dict[str, str]:
    """Cancel the agent's runs (all unfinished ones without `run_ids`): each stops before
    its next step, the step under way committing whole."""
    return runs.cancel(p, agent_id, body.run_ids if body else None)


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
