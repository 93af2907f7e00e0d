"""Models load in a thread of their own, so that a command is ready for its user before
its models are (`memgpt run` shows its prompt while llama.cpp and onnxruntime read
their files); the first use of a model waits for it."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def in_background(load: Callable[[], T], name: str) -> Future[T]:
    """`load()` running in a new thread; the future holds its result or its exception.

    The thread is not a daemon: a process that exits while a model loads waits for the
    load to end rather than unmapping memory that native code is still reading.
    """
    pool = ThreadPoolExecutor(1, thread_name_prefix=name)
    try:
        return pool.submit(load)
    finally:
        pool.shutdown(wait=False)  # the thread ends with the load
