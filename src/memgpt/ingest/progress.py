"""Progress of a document load: a rich bar on a terminal, plain lines elsewhere (CI, logs, pipes).

The bar shows files done of all, passages embedded, their rate, and the time left
(estimated from the files done so far).
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from rich.console import Console


class LoadProgress(Protocol):
    def start(self, total_files: int) -> None: ...
    def embedded(self, passages: int) -> None: ...
    def file_done(self, path: str, passages: int, failed: bool) -> None: ...
    def indexing(self) -> None: ...
    def stop(self) -> None: ...


class NoProgress:
    """For callers of the Python API who did not ask for progress output."""

    def start(self, total_files: int) -> None:
        pass

    def embedded(self, passages: int) -> None:
        pass

    def file_done(self, path: str, passages: int, failed: bool) -> None:
        pass

    def indexing(self) -> None:
        pass

    def stop(self) -> None:
        pass


class _Rate:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.passages = 0

    def per_second(self) -> float:
        return self.passages / max(time.monotonic() - self.started, 1e-9)


class RichProgress:
    def __init__(self, console: Console | None = None) -> None:
        # Here: the server and `memgpt run` import this module but never draw a bar.
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._rate = _Rate()
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files"),
            TextColumn("{task.fields[passages]} passages ({task.fields[rate]:.0f}/s)"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=console,
        )
        self._task = self._bar.add_task("loading", total=None, passages=0, rate=0.0)

    def start(self, total_files: int) -> None:
        self._rate = _Rate()
        self._bar.update(self._task, total=total_files)
        self._bar.start()

    def embedded(self, passages: int) -> None:
        self._rate.passages += passages
        self._bar.update(self._task, passages=self._rate.passages, rate=self._rate.per_second())

    def file_done(self, path: str, passages: int, failed: bool) -> None:
        self._bar.advance(self._task)

    def indexing(self) -> None:
        self._bar.update(self._task, description="indexing")

    def stop(self) -> None:
        self._bar.stop()


class PlainProgress:
    """One line per file, for output that is not a terminal."""

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out or sys.stdout
        self._rate = _Rate()
        self._total = 0
        self._done = 0

    def _print(self, text: str) -> None:
        print(text, file=self._out, flush=True)

    def start(self, total_files: int) -> None:
        self._rate, self._total, self._done = _Rate(), total_files, 0

    def embedded(self, passages: int) -> None:
        self._rate.passages += passages

    def file_done(self, path: str, passages: int, failed: bool) -> None:
        self._done += 1
        elapsed = time.monotonic() - self._rate.started
        left = elapsed / self._done * (self._total - self._done)
        self._print(
            f"[{self._done}/{self._total}] {'failed' if failed else 'done'} {path} "
            f"({self._rate.passages} passages, {self._rate.per_second():.0f}/s, ~{left:.0f}s left)"
        )

    def indexing(self) -> None:
        self._print("building the vector index...")

    def stop(self) -> None:
        pass


def progress_for(console: Console | None = None) -> LoadProgress:
    """A bar on a terminal, plain lines otherwise."""
    from rich.console import Console

    console = console or Console()
    return RichProgress(console) if console.is_terminal else PlainProgress(console.file)
