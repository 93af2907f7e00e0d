"""`memgpt run`: chat with an agent. Its start is in chat.py, the chat itself (and its heavy
imports) in session.py."""

from __future__ import annotations

import click


@click.command()
@click.option(
    "--agent", "name", metavar="NAME", help="Resume this agent, or create it under this name."
)
@click.option("--persona", metavar="NAME", help="Persona for a new agent (`memgpt list personas`).")
@click.option("--human", metavar="NAME", help="Human for a new agent (`memgpt list humans`).")
@click.option(
    "--model",
    metavar="MODEL",
    help='e.g. "openai/gpt-4o-mini", "anthropic/MODEL", "ollama/llama3.1", "local" or '
    '"local/FILE.gguf"; moves an existing agent to it.',
)
@click.option("--first", is_flag=True, help="Let the user speak first.")
@click.option("--debug", is_flag=True, help="Show full function calls, results and events.")
@click.option(
    "--yes", "-y", is_flag=True, help="Ask nothing: resume the newest agent if no --agent."
)
def run(
    name: str | None,
    persona: str | None,
    human: str | None,
    model: str | None,
    first: bool,
    debug: bool,
    yes: bool,
) -> None:
    """Chat with an agent: create one, or resume where it left off."""
    from memgpt.cli.chat import run_chat

    run_chat(name, persona, human, model, first, debug, yes)
