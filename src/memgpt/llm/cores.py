"""How many cores the embedded model uses for its next call: those the machine left free.

llama.cpp's threads meet at a barrier after each operation of each layer, so one
thread sharing its core with another busy process holds the others up a scheduler
timeslice at a time. Measured on 2 cores under a load of 5-8 from other jobs
(SmolLM2-135M, a 2,000-token context): 2 threads decoded 1.1-1.4 tokens/s and read
the prompt at 16 tokens/s, 1 thread 7-9 and 22-28. So each call takes the cores
that other processes left idle since the previous call (their CPU time is the
machine's busy time less this process's own), and all of them when the machine
is idle.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import NamedTuple

# A core counts as free when at least this share of it was idle: a thread on a core
# that is a quarter busy already waits at the barriers often enough to lose.
FREE_SHARE = 0.75
# Shorter intervals say little about the load; the previous choice stands.
MIN_INTERVAL_S = 0.2


def busy_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy since boot; None where the system
    does not say (no /proc/stat)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:9]  # user … steal; guest time is inside user
    except OSError:
        return None
    ticks = [int(x) for x in fields]
    idle = sum(ticks[3:5])  # idle, iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _Sample(NamedTuple):
    wall: float
    busy: float
    own: float


class CoreShare:
    """Chooses the thread count call by call from the CPU time others used in between."""

    def __init__(
        self,
        *,
        cores: int | None = None,
        machine_cores: int | None = None,
        busy: Callable[[], float | None] = busy_seconds,
        own: Callable[[], float] = time.process_time,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.cores = cores or usable_cores()
        self._machine = machine_cores or os.cpu_count() or self.cores
        self._busy, self._own, self._clock, self._sleep = busy, own, clock, sleep
        self._last = self._sample()
        self._threads: int | None = None

    def _sample(self) -> _Sample | None:
        busy = self._busy()
        return None if busy is None else _Sample(self._clock(), busy, self._own())

    def threads(self) -> int:
        """Threads for the next call: the cores free since the last choice, at least one."""
        now = self._sample()
        if now is None or self._last is None:
            return self.cores
        wall = now.wall - self._last.wall
        if wall < MIN_INTERVAL_S:
            if self._threads is not None:
                return self._threads
            # The first call must not guess: all cores on a busy machine is the slow case.
            self._sleep(MIN_INTERVAL_S - wall)
            now = self._sample() or now
            wall = now.wall - self._last.wall
        others = max(0.0, (now.busy - self._last.busy) - (now.own - self._last.own)) / wall
        free = self._machine - others
        self._threads = max(1, min(self.cores, int(free + 1 - FREE_SHARE)))
        self._last = now
        return self._threads
