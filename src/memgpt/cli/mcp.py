"""`memgpt mcp serve`: memgpt's agents as an MCP server on stdin/stdout, for MCP clients
that start their servers as commands (Claude Code, Claude Desktop, Cursor)."""

from __future__ import annotations

import click


@click.group()
def mcp() -> None:
    """memgpt and the Model Context Protocol."""


@mcp.command()
@click.option("--database", help="SQLite file (default: the user's memgpt database).")
def serve(database: str | None) -> None:
    """Serve the agents over MCP on stdio, as the local user (the one `memgpt server
    --no-auth` serves), or as the user of the API key in $MEMGPT_API_KEY."""
    from memgpt.server.mcp_server import serve_stdio

    serve_stdio(database)
