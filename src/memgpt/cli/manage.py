"""`memgpt list`, `add`, `delete` and `version`: the agents, personas and humans on disk."""

from __future__ import annotations

import json
from pathlib import Path

import click

from memgpt import config

TEXT_KINDS = click.Choice(config.KINDS)


@click.command("list")
@click.argument("what", type=click.Choice(["agents", "personas", "humans"]))
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
def list_(what: str, as_json: bool) -> None:
    """List agents, personas or humans."""
    if what == "agents":
        rows = _agent_rows()
        columns = ["name", "model", "embedding", "created_at", "id"]
    else:
        kind = what[:-1]
        rows = [{"name": n, "text": t} for n, t in config.list_texts(kind).items()]
        columns = ["name", "text"]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        table.add_row(*(str(row[c]) for c in columns))
    Console(highlight=False).print(table)


def _agent_rows() -> list[dict[str, str]]:
    from memgpt.client import MemGPT

    client = MemGPT()
    try:
        return [
            {
                "name": a.name,
                "model": f"{a.llm.provider}/{a.llm.model}",
                "embedding": f"{a.embedding.provider}/{a.embedding.model}",
                "created_at": a.created_at.isoformat(timespec="seconds"),
                "id": a.id,
            }
            for a in client.list_agents()
        ]
    finally:
        client.close()


@click.command()
@click.argument("kind", type=TEXT_KINDS)
@click.argument("name")
@click.option("--text", help="The text.")
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read the text from this file.")  # fmt: skip
def add(kind: str, name: str, text: str | None, file: Path | None) -> None:
    """Add (or replace) a persona or human text that new agents can start from."""
    if (text is None) == (file is None):
        raise click.UsageError("Give the text with exactly one of --text or --file.")
    content = text if text is not None else file.read_text(encoding="utf-8")  # type: ignore[union-attr]
    path = config.add_text(kind, name, content)
    click.echo(f"Saved {kind} {name!r} to {path}.")


@click.command()
@click.argument("what", type=click.Choice(["agent"]))
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def delete(what: str, name: str, yes: bool) -> None:
    """Delete an agent with its messages, memory and archival passages."""
    from memgpt.client import MemGPT

    client = MemGPT()
    try:
        if client.store.get_agent(name) is None:
            client.delete_agent(name)  # raises the one-sentence "no such agent" error
        if not yes:
            click.confirm(f"Delete agent {name!r} and everything it remembers?", abort=True)
        client.delete_agent(name)
    finally:
        client.close()
    click.echo(f"Deleted agent {name!r}.")


@click.command()
def version() -> None:
    """Print memgpt's version."""
    from importlib.metadata import version as dist_version

    click.echo(f"memgpt {dist_version('memgpt')}")
