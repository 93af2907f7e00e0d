"""Per-agent locks that hold across processes, for stores several processes may share.

An agent's step reads its state, calls the LLM outside any transaction, then
commits; two processes stepping one agent at once would each commit a step
built on stale state (one's memory edits lost, their messages interleaved).
The agent loop therefore holds `store.agent_lock(agent_id)` for a whole event.

`AgentLocks` makes any cross-process primitive reentrant and thread-safe: the
outermost holder in this process takes the primitive, nested holders (a retry
that sends again, a server route wrapping `agent.send`) only count.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from memgpt.private import FILE_MODE, private_dir

Release = Callable[[], None]


@dataclass
class _Held:
    lock: threading.RLock = field(default_factory=threading.RLock)
    depth: int = 0
    release: Release | None = None


class AgentLocks:
    def __init__(self, acquire: Callable[[str], Release]):
        """`acquire(agent_id)` blocks until this process holds the agent, and returns the
        function that lets it go."""
        self._acquire = acquire
        self._guard = threading.Lock()
        self._held: dict[str, _Held] = {}

    @contextmanager
    def hold(self, agent_id: str) -> Iterator[None]:
        with self._guard:
            held = self._held.setdefault(agent_id, _Held())
        with held.lock:
            if held.depth == 0:
                held.release = self._acquire(agent_id)
            held.depth += 1
            try:
                yield
            finally:
                held.depth -= 1
                if held.depth == 0 and held.release is not None:
                    release, held.release = held.release, None
                    release()


def file_lock(directory: Path) -> Callable[[str], Release]:
    """Exclusive `flock` on `<directory>/<hash of agent id>.lock`; the kernel drops it when
    the process dies, so a killed step never leaves the agent locked.

    Lock files are never deleted: removing one while another process waits on it would let
    a third process lock a new file of the same name while the waiter locks the old one.
    """

    def acquire(agent_id: str) -> Release:
        release = _flock(directory, agent_id, wait=True)
        assert release is not None  # a waiting flock returns holding the lock
        return release

    return acquire


def try_file_lock(directory: Path, name: str) -> Release | None:
    """The lock `file_lock` takes for `name`, if no other holder has it now; else None."""
    return _flock(directory, name, wait=False)


def _flock(directory: Path, name: str, *, wait: bool) -> Release | None:
    private_dir(directory)
    digest = hashlib.sha256(name.encode()).hexdigest()[:32]
    fd = os.open(directory / f"{digest}.lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise

    def release() -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    return release
