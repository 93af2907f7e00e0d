"""The `memgpt` command: wiring. Each command lives in its own module.

Command modules import only click at load time; the runtime, SDKs, numpy and rich load
inside the commands, so that `memgpt --help` starts fast.
"""

from __future__ import annotations

import click

from memgpt.cli import bench, configure, load, manage, mcp, recall, run, server
from memgpt.errors import MemGPTError

COMMANDS = (
    run.run,
    load.load,
    server.server,
    mcp.mcp,
    configure.configure,
    manage.list_,
    manage.add,
    manage.delete,
    manage.version,
    recall.recall,
    bench.bench,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def app() -> None:
    """MemGPT: LLM agents that manage their own memory, like an OS manages RAM."""


for _command in COMMANDS:
    app.add_command(_command)


def main() -> int:
    """Run the command; a user's mistake ends in one sentence and exit code 1, no traceback."""
    try:
        app.main(prog_name="memgpt")  # exits through SystemExit on success and on usage errors
    except MemGPTError as exc:
        click.secho(f"Error: {exc}", fg="red", err=True)
        return 1
    return 0
