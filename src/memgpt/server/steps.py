"""Running agent steps without blocking the server, in order per agent.

Steps (LLM calls, tools, SQLite commits) run in a thread pool, so the event loop keeps
serving other requests and other agents. Requests to one agent take turns on an
asyncio lock, which wakes waiters first come, first served; the agent's own lock
inside `Agent.process` still guards it against every other caller.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar

from memgpt.errors import MemGPTError
from memgpt.server.errors import ModelCallError

log = logging.getLogger(__name__)

T = TypeVar("T")
OnMessages = Callable[[list[dict[str, Any]]], None]
Work = Callable[[OnMessages | None, OnMessages | None], dict[str, Any]]
_PIECE = re.compile(r"\s*\S+|\s+")
_STREAMED_TEXT = {"reasoning_message": "reasoning", "assistant_message": "content"}


class StepRunner:
    def __init__(self, workers: int):
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="memgpt-step")
        self._turns: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def turn(self, agent_id: str) -> AsyncIterator[None]:
        lock = self._turns.setdefault(agent_id, asyncio.Lock())
        async with lock:
            yield

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self.pool, partial(fn, *args, **kwargs)
        )

    async def call(self, agent_id: str, work: Work) -> dict[str, Any]:
        """One message, answered when its steps are done."""
        async with self.turn(agent_id):
            return await self.run(work, None)

    async def stream(
        self, agent_id: str, work: Work, *, tokens: bool, ping_s: float | None
    ) -> AsyncIterator[dict[str, Any]]:
        """One message, its Letta messages yielded step by step as each step commits, then
        the stop reason and usage. With `tokens`, the reasoning and the message text come
        as the model writes them, when its backend streams; otherwise each step's texts
        are split into word-sized pieces once it commits. Pieces share their message's id."""
        loop = asyncio.get_running_loop()
        # (whether these are deltas, the Letta messages); None when the work is done.
        queue: asyncio.Queue[tuple[bool, list[dict[str, Any]]] | None] = asyncio.Queue()
        streamed: set[tuple[str, str]] = set()  # (id, message_type) already sent as deltas

        def on_messages(messages: list[dict[str, Any]]) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (False, messages))

        def on_delta(pieces: list[dict[str, Any]]) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (True, pieces))

        async with self.turn(agent_id):
            future = loop.run_in_executor(
                self.pool, partial(work, on_messages, on_delta if tokens else None)
            )
            future.add_done_callback(lambda _: loop.call_soon_threadsafe(queue.put_nowait, None))
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), ping_s)
                except TimeoutError:
                    yield {"message_type": "ping"}
                    continue
                if item is None:
                    break
                deltas, batch = item
                for message in batch:
                    key = (message["id"], message["message_type"])
                    if deltas:
                        streamed.add(key)
                        yield message
                    elif key not in streamed:  # else its text went out as it was written
                        for piece in _pieces(message) if tokens else [message]:
                            yield piece
            try:
                result = future.result()
            except ModelCallError as exc:
                # Letta's shape: the error, then the llm_api_error stop reason and usage.
                yield _error("llm_error", str(exc))
                yield exc.result["stop_reason"]
                yield exc.result["usage"]
                return
            except MemGPTError as exc:
                yield _error("invalid_request", str(exc))
                yield {"message_type": "stop_reason", "stop_reason": "error"}
                return
            except Exception as exc:
                log.exception("agent step failed")
                yield _error("internal_error", f"The step failed: {type(exc).__name__}.")
                yield {"message_type": "stop_reason", "stop_reason": "error"}
                return
            yield result["stop_reason"]
            yield result["usage"]


def _pieces(message: dict[str, Any]) -> list[dict[str, Any]]:
    field = _STREAMED_TEXT.get(message["message_type"])
    if field is None or not message.get(field):
        return [message]
    return [{**message, field: piece} for piece in _PIECE.findall(message[field])]


def _error(kind: str, text: str) -> dict[str, Any]:
    return {"message_type": "error_message", "error_type": kind, "message": text, "run_id": ""}


def sse(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
    """Server-sent events as both SDK lines read them, closed by `[DONE]`."""

    async def encode() -> AsyncIterator[str]:
        async for event in events:
            yield f"data: {json.dumps(event)}\n\n"
        yield "data: [DONE]\n\n"

    return encode()
