"""Slash commands inside `memgpt run`. Each is a few lines over an `Agent` method."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from memgpt import config
from memgpt.errors import MemGPTError
from memgpt.schemas import utcnow

if TYPE_CHECKING:
    from memgpt.cli.session import Session

# A handler gets the session and the text after the command; False ends the chat.
Handler = Callable[["Session", str], bool | None]


@dataclass
class Command:
    usage: str
    help: str
    handler: Handler


COMMANDS: dict[str, Command] = {}


class UsageError(MemGPTError):
    pass


def command(name: str, usage: str, help: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        COMMANDS[name] = Command(usage, help, handler)
        return handler

    return register


def dispatch(session: Session, line: str) -> bool:
    """Run one slash command line; False when the chat should end."""
    name, _, arg = line.partition(" ")
    cmd = COMMANDS.get(name.lower())
    if cmd is None:
        raise UsageError(f"There is no command {name}; /help lists them.")
    return cmd.handler(session, arg.strip()) is not False


def _count(arg: str, default: int, usage: str) -> int:
    if not arg:
        return default
    if not arg.isdigit() or int(arg) < 1:
        raise UsageError(f"Give a positive number: {usage}.")
    return int(arg)


def _text(arg: str, usage: str) -> str:
    if not arg:
        raise UsageError(f"Give the new text: {usage}.")
    return arg


@command("/exit", "/exit", "leave the chat (everything is already saved)")
def _exit(session: Session, arg: str) -> bool:
    return False


@command("/save", "/save", "confirm where the agent is stored")
def _save(session: Session, arg: str) -> None:
    agent = session.agent
    session.say(
        f"Saved: each step is committed to {config.database_path()} as it happens "
        f"({agent.store.count_messages(agent.id)} messages in recall storage, "
        f"{agent.store.count_passages(agent.id)} passages in archival storage).",
        "green",
    )


@command("/memory", "/memory", "show the working context blocks and the external stores' sizes")
def _memory(session: Session, arg: str) -> None:
    agent = session.agent
    for block in agent.state.blocks:
        session.console.print(
            Text.assemble(
                (f"[{block.label}] ", "bold magenta"),
                (f"{len(block.value)}/{block.limit} chars", "dim"),
            )
        )
        session.say(block.value or "(empty)")
    session.say(
        f"{agent.store.count_messages(agent.id)} messages in recall storage, "
        f"{agent.store.count_passages(agent.id)} passages in archival storage.",
        "dim",
    )
    if agent.state.summary:
        session.console.print(
            Text.assemble(("[summary] ", "bold magenta"), (agent.state.summary, ""))
        )


@command("/context", "/context", "main context's token use per section against the window")
def _context(session: Session, arg: str) -> None:
    context = session.agent.compile()
    table = Table(
        title=f"main context: {context.total} of {context.budget} tokens", title_justify="left"
    )
    table.add_column("section")
    table.add_column("tokens", justify="right")
    table.add_column("% of window", justify="right")
    table.add_column("", no_wrap=True)
    width = 20
    for name, tokens in context.sections.items():
        share = tokens / context.window
        table.add_row(name, str(tokens), f"{100 * share:.1f}", "█" * round(width * share))
    table.add_row("reply reserve", str(context.window - context.budget), "", "", style="dim")
    table.add_row("window", str(context.window), "100.0", "", style="bold")
    session.console.print(table)


@command(
    "/usage", "/usage", "tokens the agent's steps have used: prompt (cached), completion, total"
)
def _usage(session: Session, arg: str) -> None:
    used = session.agent.store.get_agent(session.agent.id).usage
    session.console.print(
        f"{used.step_count} steps: {used.prompt_tokens} prompt tokens "
        f"({used.cached_prompt_tokens} cached), {used.completion_tokens} completion, "
        f"{used.total_tokens} total"
    )


@command("/pop", "/pop [N]", "undo the last N messages (default 3), back to a whole step")
def _pop(session: Session, arg: str) -> None:
    removed = session.agent.pop(_count(arg, 3, "/pop [N]"))
    session.say(f"Popped {len(removed)} messages out of main context (recall storage keeps them).")


@command("/retry", "/retry", "undo the agent's last answer and send your last message again")
def _retry(session: Session, arg: str) -> None:
    session.step(session.agent.retry, typed=False)


@command("/rethink", "/rethink TEXT", "replace the inner monologue of the agent's last step")
def _rethink(session: Session, arg: str) -> None:
    session.agent.rethink(_text(arg, "/rethink TEXT"))
    session.say("Rewrote the agent's last inner monologue.")


@command("/rewrite", "/rewrite TEXT", "replace the text of the agent's last message")
def _rewrite(session: Session, arg: str) -> None:
    session.agent.rewrite(_text(arg, "/rewrite TEXT"))
    session.say("Rewrote the agent's last message.")


@command("/dump", "/dump [N]", "show the last N messages in main context (default 10)")
def _dump(session: Session, arg: str) -> None:
    queue = session.agent.queue
    session.renderer.messages(queue[-_count(arg, 10, "/dump [N]") :])


@command("/summarize", "/summarize", "fold the oldest half of the conversation into the summary")
def _summarize(session: Session, arg: str) -> None:
    evicted = session.agent.summarize_now()
    session.say(f"Summarized {evicted} messages; the summary now reads:")
    session.say(session.agent.state.summary, "dim")


@command("/heartbeat", "/heartbeat", "wake the agent with a heartbeat to reflect or tidy memory")
def _heartbeat(session: Session, arg: str) -> None:
    session.step(lambda _on_step: session.agent.heartbeat())
    paused = session.agent.state.heartbeats_paused_until
    if paused is not None and paused > utcnow():  # then the agent was not woken
        session.say(f"The agent paused heartbeats until {paused:%Y-%m-%d %H:%M} UTC.", "yellow")


@command("/memorywarning", "/memorywarning", "send the memory-pressure warning now")
def _memorywarning(session: Session, arg: str) -> None:
    session.step(session.agent.memory_warning)


@command("/attach", "/attach SOURCE", "let the agent search a source loaded with `memgpt load`")
def _attach(session: Session, arg: str) -> None:
    if not arg:
        raise UsageError("Name the source: /attach SOURCE (make one with `memgpt load`).")
    source = session.agent.attach_source(arg)
    session.say(f"Attached {source.name!r}: archival_memory_search now covers it.", "green")


@command("/help", "/help", "list these commands")
def _help(session: Session, arg: str) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    for cmd in COMMANDS.values():
        table.add_row(Text(cmd.usage, "bold"), cmd.help)
    session.console.print(table)
