"""The `memgpt run` chat: open or create the agent, then read lines and show what it does.

Each step runs in this thread under a spinner. Ctrl-C during a step raises
KeyboardInterrupt wherever the step is; every step commits in one transaction, so
completed steps stay and the unfinished one is discarded (`Agent.recover_from_interrupt`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.text import Text

from memgpt import config
from memgpt.agent import events
from memgpt.agent.agent import Agent
from memgpt.cli import slash
from memgpt.cli.render import Renderer
from memgpt.client import MemGPT
from memgpt.errors import MemGPTError
from memgpt.llm.streaming import MESSAGE
from memgpt.schemas import Message, Response, StopReason

if TYPE_CHECKING:
    from rich.status import Status

OnStep = Callable[[list[Message]], None]

LOCAL_DEMO_NOTE = (
    "Running on the embedded SmolLM2-135M, a tiny offline demo model that picks functions "
    "poorly; for a real one run `memgpt configure` or `memgpt run --model openai/gpt-4o-mini` "
    "(or anthropic/..., ollama/...)."
)


class Session:
    def __init__(self, client: MemGPT, agent: Agent, console: Console, debug: bool):
        self.client, self.agent, self.console = client, agent, console
        self.renderer = Renderer(console, agent.state.name, debug)

    def step(
        self, action: Callable[..., Response | None], typed: bool = True, stream: bool = False
    ) -> Response | None:
        """Run one event to its end under a spinner, showing each step as it commits;
        Ctrl-C abandons the unfinished step safely. With `stream`, `action` also takes an
        on_delta, and the spinner's line shows the reply as the model writes it."""
        shown: set[str] = set()
        writing = {"id": "", "field": "", "text": ""}

        def show(messages: list[Message]) -> None:
            self.renderer.messages(messages, typed=typed)
            shown.update(m.id for m in messages)

        try:
            name = self.agent.state.name
            with self.console.status(f"{name} is thinking…", spinner="dots") as status:
                self.wait_for_model(status)

                def write(message_id: str, field: str, text: str) -> None:
                    if (writing["id"], writing["field"]) != (message_id, field):
                        writing.update(id=message_id, field=field, text="")
                    writing["text"] += text
                    label = f"{name}: " if field == MESSAGE else "thinking: "
                    width = max(self.console.width - len(label) - 4, 10)
                    line = " ".join(writing["text"].split())[-width:]
                    status.update(Text.assemble((label, "bold cyan"), (line, "")))

                response = action(show, write) if stream else action(show)
        except KeyboardInterrupt:
            self.agent.recover_from_interrupt()
            self.say(
                "Interrupted: finished steps are saved, the unfinished one was discarded.", "yellow"
            )
            return None
        if response is not None:
            self.renderer.response(response, typed=typed, shown=shown)
        return response

    def wait_for_model(self, status: Status) -> None:
        """Local models load in the background while the user types (`memgpt.loading`):
        the first step may have to wait for them, and says so."""
        loading = [
            m for m in (self.agent.llm, self.agent.embedder) if not getattr(m, "loaded", True)
        ]
        if not loading:
            return
        status.update(Text("Loading the local models…"))
        for model in loading:
            model.load()
        status.update(Text(f"{self.agent.state.name} is thinking…"))

    def greet(self) -> Response | None:
        """The login event: the agent's greeting, streamed like any reply."""
        return self.step(
            lambda on_step, on_delta: self.agent.process(events.login(), on_step, on_delta),
            stream=True,
        )

    def say(self, text: str, style: str = "") -> None:
        self.console.print(Text(text, style))

    def settle(self, read: Callable[[], str]) -> None:
        """Ask the user about each call waiting for approval (y/n, then an optional reason
        for a no) until none waits; the agent goes on from each answer."""
        while (waiting := self.agent.pending_approval()) is not None:
            call = waiting.tool_calls[0]
            self.say(f"{self.agent.state.name} asks to run {call.name}({call.arguments}).", "bold")
            self.say("Approve it? [y/n]", "yellow")
            choice = read().strip().lower()
            if choice in ("y", "yes"):
                answer = self.agent.approve
            elif choice in ("n", "no"):
                self.say("Why not? (optional: the agent reads it; Enter to skip)", "yellow")
                answer = partial(self.agent.deny, read().strip() or None)
            else:
                continue
            if self.step(answer, stream=True) is None:
                return  # interrupted: asked again at the next prompt

    def begin(self, first: bool) -> None:
        """Say which agent and model this is; then the agent's greeting, unless the user
        speaks first or a call of the agent's waits for approval."""
        llm = self.agent.state.llm
        self.console.print(
            Text.assemble(
                ("agent ", "dim"),
                (self.agent.state.name, "bold cyan"),
                (f" · model {llm.provider}/{llm.model} · {llm.context_window} tokens", "dim"),
                (" · /help for commands, /exit to leave", "dim"),
            )
        )
        if llm.provider == "local" and llm.model == "smollm2":
            self.console.print(Text(LOCAL_DEMO_NOTE, "yellow"))
        if not first and self.agent.pending_approval() is None:
            response = self.greet()
            # The error is on screen already; without a model there is nothing to chat with.
            if response is not None and response.stop_reason == StopReason.LLM_ERROR:
                raise SystemExit(1)

    def loop(self, read: Callable[[], str], typed: str = "") -> None:
        """Read and act until /exit or end of input; a call waiting for approval is asked
        about before the next line. `typed`: a line read before the agent was open, acted
        on first (after any approval)."""
        while True:
            try:
                self.settle(read)
                line, typed = typed or read().strip(), ""
            except KeyboardInterrupt:  # at the prompt, Ctrl-C clears the line
                continue
            except EOFError:
                return
            except MemGPTError as exc:  # the step after an answer failed; asked again
                self.say(str(exc), "bold red")
                continue
            if not line:
                continue
            try:
                if line.startswith("/"):
                    if not slash.dispatch(self, line):
                        return
                else:
                    self.step(
                        lambda on_step, on_delta, text=line: self.agent.send(
                            text, on_step, on_delta
                        ),
                        stream=True,
                    )
            except MemGPTError as exc:  # one sentence; the chat goes on
                self.say(str(exc), "bold red")


def open_agent(
    client: MemGPT,
    name: str | None,
    persona: str | None,
    human: str | None,
    model: str | None,
    yes: bool,
    say: Callable[[Text], None],
) -> Agent:
    """Resume `name` (or, asked, the newest agent), else create it from the settings."""
    if name is None:
        agents = client.list_agents()
        if agents:
            newest = max(agents, key=lambda a: a.created_at)
            if yes or click.confirm(f"Resume agent {newest.name!r}?", default=True):
                name = newest.name
    existing = client.store.get_agent(name) if name else None
    if existing is not None:
        if persona or human:
            say(Text("--persona and --human apply only when creating an agent.", "dim"))
        moved = config.load_settings(model).llm_config() if model else None
        return client.get_agent(existing.id, model=moved)
    settings = config.load_settings(model)
    persona_text = config.get_text("persona", persona or config.DEFAULT_TEXT_NAMES["persona"])
    human_text = config.get_text("human", human or config.DEFAULT_TEXT_NAMES["human"])
    agent = client.create_agent(
        name,
        persona=persona_text,
        human=human_text,
        model=settings.llm_config(),
        embedding=settings.embedding_config(),
    )
    say(Text(f"Created agent {agent.state.name!r}.", "green"))
    return agent
