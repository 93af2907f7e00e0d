"""Connections a client opens but does not use: uvicorn keeps them open for as long as
the client likes (its keep-alive timer only runs between requests), so silent or
half-sent requests could hold every file descriptor without a key. Here a request's
headers must arrive within a deadline, its body may not pause longer than another, and
connections past a cap are closed as they are accepted.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0  # from a connection, or a request's first byte, to its last header
BODY_TIMEOUT_S = 30.0  # the longest pause between two pieces of a body
MAX_CONNECTIONS = 1000  # a process's usual limit is 1,024 descriptors; the server needs some


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_s: float = HEADER_TIMEOUT_S
    body_timeout_s: float = BODY_TIMEOUT_S
    max_connections: int = MAX_CONNECTIONS


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the deadlines above. uvicorn makes one per connection;
    give it as `functools.partial(TimedH11Protocol, limits=...)` for other values."""

    def __init__(self, *args: Any, limits: ConnectionLimits | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.limits = limits or ConnectionLimits()
        self._deadline: asyncio.TimerHandle | None = None
        self._owed: type | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self.transport.close()
            return
        self._arm(h11.IDLE, self.limits.header_timeout_s)  # a silent connection, too

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        owed = self.conn.their_state
        if owed is h11.IDLE:  # headers started: one deadline for all of them
            self._arm(h11.IDLE, self.limits.header_timeout_s)
        elif owed is h11.SEND_BODY:  # restarted by every piece
            self._cancel()
            self._arm(h11.SEND_BODY, self.limits.body_timeout_s)
        else:  # the request is in: the server's turn
            self._cancel()

    def on_response_complete(self) -> None:
        # Idle between requests, uvicorn's keep-alive timer closes the connection.
        self._cancel()
        super().on_response_complete()

    def _arm(self, owed: type, seconds: float) -> None:
        if self._deadline is not None and self._owed is owed:
            return
        self._cancel()
        self._owed = owed
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline, self._owed = None, None

    def _expired(self) -> None:
        self._deadline, self._owed = None, None
        if not self.transport.is_closing():
            self.transport.close()
