"""`memgpt server [OPTIONS]` and `memgpt server create-key ...`: the REST server.

The server's own entry point (`python -m memgpt.server`) parses the options, so
they are passed through untouched: `memgpt server -- --help` lists them.
"""

from __future__ import annotations

import click


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def server(args: tuple[str, ...]) -> None:
    """Serve the REST API (Letta-compatible, OpenAI chat completions) on port 8283."""
    from memgpt.server.__main__ import main

    raise SystemExit(main(list(args)))
