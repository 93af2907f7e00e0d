"""PDF and Word files are parsed in a child process: its CPU time and memory are
limited, a parse past its time is stopped, and whatever memory the parser took is
returned to the system when the child exits. A parser's cost grows with what a small
file unpacks to, which no check of the file itself bounds exactly.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable

PARSE_TIMEOUT_S = 60.0
PARSE_MEMORY_BYTES = 4 * 2**30  # address space: the interpreter and parsers reserve plenty

_CHILD = "from memgpt.ingest.isolated import _child; _child()"


def parse(
    kind: str,
    data: bytes,
    max_pages: int,
    fail: Callable[[str], Exception],
    *,
    timeout_s: float = PARSE_TIMEOUT_S,
    memory_bytes: int = PARSE_MEMORY_BYTES,
) -> list[tuple[str, int | None]]:
    """The (text, page) segments of a ".pdf" or ".docx", parsed in a child; `fail(reason)`
    for a file that cannot be parsed or runs past its limits."""
    cpu_s = int(timeout_s) + 1

    def limits() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    try:
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, kind, str(max_pages)],
            input=data,
            capture_output=True,
            timeout=timeout_s,
            preexec_fn=limits,
        )
    except subprocess.TimeoutExpired:
        raise fail(f"took longer than {timeout_s:g} s to parse; split it.") from None
    try:
        answer = json.loads(child.stdout)
    except ValueError:
        answer = None
    if answer is None:
        if b"MemoryError" in child.stderr:
            raise fail(f"needed more than {memory_bytes // 2**20:,} MiB to parse; split it.")
        if -child.returncode in (signal.SIGKILL, signal.SIGXCPU):  # the CPU time limit
            raise fail(f"took longer than {timeout_s:g} s to parse; split it.")
        raise fail(f"could not be parsed (the parser stopped, exit status {child.returncode}).")
    if "reason" in answer:
        raise fail(answer["reason"])
    return [(text, page) for text, page in answer["segments"]]


def _child() -> None:
    """In the child: parse stdin as argv's kind, answer JSON on stdout."""
    from memgpt.ingest import loaders

    kind, max_pages = sys.argv[1], int(sys.argv[2])
    data = sys.stdin.buffer.read()

    def fail(reason: str) -> loaders.LoadError:
        return loaders.LoadError(loaders.LoadProblem("", reason))

    try:
        if kind == ".pdf":
            segments = loaders._pdf_segments(data, max_pages, fail)
        else:
            segments = loaders._single(loaders._docx_text(data, fail))
        answer: dict = {"segments": [(s.text, s.page) for s in segments]}
    except loaders.LoadError as e:
        answer = {"reason": e.problem.reason}
    sys.stdout.write(json.dumps(answer))
    sys.stdout.flush()
