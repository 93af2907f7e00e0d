"""How `memgpt run` starts: the prompt first, the agent opening behind it.

The runtime (the agent, the store, the models) takes most of a start to import and open.
When nothing has to come before the first line (`--first`, and an agent named or `--yes`,
so no resume question), the prompt is shown at once and the agent opens in a thread
while the user types; the line is acted on once it is open. Everything else (the session
itself, a call waiting for approval, the greeting) is in session.py.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from memgpt import config
from memgpt.private import private_dir

if TYPE_CHECKING:
    from prompt_toolkit.application import Application

    from memgpt.agent.agent import Agent
    from memgpt.client import MemGPT

Read = Callable[..., str]  # reads a line; on a terminal, takes prompt_toolkit's pre_run


def prompt_reader() -> Read:
    """prompt_toolkit with history on a terminal; plain lines when input is piped."""
    if not sys.stdin.isatty():
        return lambda pre_run=None: input()
    from prompt_toolkit import PromptSession
    from prompt_toolkit.formatted_text import FormattedText
    from prompt_toolkit.history import FileHistory

    private_dir(config.home())
    session: PromptSession[str] = PromptSession(history=FileHistory(str(config.home() / "history")))
    label = FormattedText([("bold ansigreen", "you: ")])
    return lambda pre_run=None: session.prompt(label, pre_run=pre_run)


class Opening:
    """The agent opening in a thread. Should it fail while the prompt is up, the prompt
    ends at once with the error rather than after the user's line."""

    def __init__(self, open_agent: Callable[[], Any]):
        self._lock = threading.Lock()
        self._prompt: Application | None = None
        self._value: Any = None
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._run, args=(open_agent,), daemon=True)
        self._thread.start()

    def _run(self, open_agent: Callable[[], Any]) -> None:
        try:
            self._value = open_agent()
        except Exception as exc:
            with self._lock:
                self._error, prompt = exc, self._prompt
            if prompt is not None:
                prompt.loop.call_soon_threadsafe(self._end, prompt)

    def _end(self, prompt: Application) -> None:
        if prompt.is_running and not prompt.future.done():
            prompt.exit(exception=self._error)

    def watch(self, prompt: Application) -> None:
        """prompt_toolkit's pre_run: the prompt is up, and ends if opening failed."""
        with self._lock:
            self._prompt = prompt
        if self._error is not None:
            self._end(prompt)

    def result(self) -> Any:
        with self._lock:
            self._prompt = None
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def _open(
    name: str | None,
    persona: str | None,
    human: str | None,
    model: str | None,
    yes: bool,
    notes: list[Text],
) -> tuple[MemGPT, Agent]:
    from memgpt.cli.session import open_agent
    from memgpt.client import MemGPT

    client = MemGPT()
    try:
        return client, open_agent(client, name, persona, human, model, yes, notes.append)
    except BaseException:
        client.close()
        raise


def run_chat(
    name: str | None,
    persona: str | None,
    human: str | None,
    model: str | None,
    first: bool,
    debug: bool,
    yes: bool,
) -> None:
    console = Console(highlight=False)
    # Before the agent: opening it starts its models loading in threads that would slow
    # importing prompt_toolkit (`memgpt.loading`).
    read = prompt_reader()
    notes: list[Text] = []
    line: str | None = ""
    if first and (name is not None or yes) and sys.stdin.isatty():
        opening = Opening(lambda: _open(name, persona, human, model, yes, notes))
        try:
            line = read(pre_run=lambda: opening.watch(_running_app()))
        except KeyboardInterrupt:  # Ctrl-C at the prompt clears the line
            line = ""
        except EOFError:
            line = None
        client, agent = opening.result()
    else:
        client, agent = _open(name, persona, human, model, yes, notes)
    from memgpt.cli.session import Session

    try:
        for note in notes:
            console.print(note)
        session = Session(client, agent, console, debug)
        session.begin(first)
        if line is not None:  # None: input ended at the first prompt
            session.loop(read, line.strip())
    finally:
        client.close()


def _running_app() -> Application:
    from prompt_toolkit.application import get_app

    return get_app()
