"""`memgpt recall reindex`: make every message searchable by meaning, with progress."""

from __future__ import annotations

import click


@click.group()
def recall() -> None:
    """Recall storage: every message each agent ever exchanged."""


@recall.command()
@click.option("--agent", "-a", default=None, help="Only this agent (name or id).")
def reindex(agent: str | None) -> None:
    """Embed the messages not yet searchable by meaning (a database from an older memgpt).

    An interrupted run resumes where it stopped; agents also catch up in the background
    when opened, so this only does it now, with a progress bar.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from memgpt.client import MemGPT

    console = Console(stderr=True, highlight=False)
    client = MemGPT()
    try:
        with Progress(
            "messages",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("embed", total=None)
            done = client.reindex_recall(
                agent,
                started=lambda total: bar.update(task, total=total),
                progress=lambda n: bar.advance(task, n),
            )
    finally:
        client.close()
    click.echo(f"Embedded {done} message(s); every message is searchable by meaning.")
