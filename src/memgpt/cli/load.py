"""`memgpt load`: files and folders into a named document source, then optionally attach it."""

from __future__ import annotations

import click


@click.command()
@click.argument("path", type=click.Path(path_type=str))
@click.option(
    "--source", "-s", "source_name", required=True, help="The source to load into (made if new)."
)
@click.option("--agent", "-a", default=None, help="Attach the source to this agent afterwards.")
@click.option(
    "--embedding",
    type=click.Choice(["local", "openai", "hash"]),
    default=None,
    help="Embedding backend for a new source (default: the configured one).",
)
@click.option("--max-tokens", type=click.IntRange(16), default=None, help="Tokens per passage.")
@click.option("--tag", "tags", multiple=True, help="Tag every passage (repeatable).")
@click.option("--plain", is_flag=True, help="Plain progress lines instead of a progress bar.")
def load(
    path: str,
    source_name: str,
    agent: str | None,
    embedding: str | None,
    max_tokens: int | None,
    tags: tuple[str, ...],
    plain: bool,
) -> None:
    """Load documents (.txt .md .pdf .html .docx .json .csv) into archival storage.

    Loading the same files again adds nothing new; an interrupted load resumes.
    """
    from rich.console import Console

    from memgpt import config
    from memgpt.client import MemGPT
    from memgpt.ingest.pipeline import DEFAULT_MAX_TOKENS, DEFAULT_OVERLAP_TOKENS, LoadSettings
    from memgpt.ingest.progress import PlainProgress, progress_for

    tokens = max_tokens or DEFAULT_MAX_TOKENS
    settings = config.load_settings()
    if embedding is not None:
        settings.embedding = embedding
    console = Console(highlight=False)
    client = MemGPT()
    try:
        if client.store.get_source(source_name) is None:
            client.create_source(source_name, embedding=settings.embedding_config())
        summary = client.load(
            source_name,
            path,
            settings=LoadSettings(
                max_tokens=tokens,
                overlap_tokens=min(DEFAULT_OVERLAP_TOKENS, tokens // 4),
                tags=list(tags),
            ),
            progress=PlainProgress(console.file) if plain else progress_for(console),
        )
        for line in summary.lines():
            console.print(line, markup=False, soft_wrap=True)
        if agent is not None:
            client.attach_source(agent, source_name)
            console.print(f"Attached source {source_name!r} to agent {agent!r}.", markup=False)
    finally:
        client.close()
    if summary.count("failed"):
        raise click.exceptions.Exit(1)
