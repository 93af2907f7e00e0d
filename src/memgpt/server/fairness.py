"""One organization's heavy work must not starve another's (DESIGN invariant 9).

Agent steps run in the step pool (`steps`); direct tool runs and agent-file imports each
run in a bounded pool of their own, so a flood of them waits behind itself rather than
taking the threads messages need. Each organization may hold only a few of a pool's
workers at once: past that a request is refused at once with 429 and Retry-After
rather than queued, so a flood costs its sender, not the others.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from memgpt.errors import MemGPTError

T = TypeVar("T")

TOOL_WORKERS = 8  # sandboxes at once, for direct runs (agents' own tool calls are steps)
TOOLS_PER_ORG = 4
IMPORT_WORKERS = 2
IMPORTS_PER_ORG = 1


class TooBusyError(MemGPTError):
    """The caller's organization holds all it may of a pool; answered with 429."""

    retry_after_s = 5


class WorkPool:
    def __init__(self, kind: str, workers: int, per_org: int):
        self.kind, self.per_org = kind, per_org
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix=f"memgpt-{kind}")
        self._held: Counter[str] = Counter()
        self._guard = threading.Lock()

    async def run(self, organization_id: str, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in this pool, or TooBusyError when the organization already has
        `per_org` of this kind of work running or waiting."""
        with self._guard:
            if self._held[organization_id] >= self.per_org:
                raise TooBusyError(
                    f"Your organization has as many {self.kind} running as it may at once "
                    f"({self.per_org}); wait for one to finish, then try again."
                )
            self._held[organization_id] += 1
        future = self.pool.submit(fn, *args)
        # Released when the work ends, not when the caller stops waiting: a client that
        # hangs up does not stop the thread.
        future.add_done_callback(lambda _: self._release(organization_id))
        return await asyncio.wrap_future(future)

    def _release(self, organization_id: str) -> None:
        with self._guard:
            self._held[organization_id] -= 1
            if not self._held[organization_id]:
                del self._held[organization_id]

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
