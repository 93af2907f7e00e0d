"""`memgpt mcp serve`: memgpt's agents as an MCP server on stdin/stdout, for MCP clients
that start their servers as commands (Claude Code, Claude Desktop, Cursor); `memgpt mcp
add/list/remove`: the MCP servers whose tools agents may call."""

from __future__ import annotations

import shlex

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


@mcp.command()
@click.argument("name")
@click.option(
    "--command", "command", help="A stdio server's command line, as the operator allowed it."
)
@click.option("--url", help="A streamable HTTP (or, with --sse, SSE) server's URL.")
@click.option("--sse", is_flag=True, help="The URL speaks the older SSE transport.")
@click.option("--header", "headers", multiple=True, help="NAME=VALUE sent with each request.")
@click.option("--token", help="A bearer token (sent as Authorization: Bearer TOKEN).")
@click.option("--database", help="SQLite file (default: the user's memgpt database).")
def add(
    name: str,
    command: str | None,
    url: str | None,
    sse: bool,
    headers: tuple[str, ...],
    token: str | None,
    database: str | None,
) -> None:
    """Register an MCP server and list its tools."""
    from memgpt.server import mcp_registry as registry
    from memgpt.server.mcp_server import local_service

    if (command is None) == (url is None):
        raise click.UsageError("Give either --command or --url.")
    pairs = [h.partition("=") for h in headers]
    if any(not sep for _k, sep, _v in pairs):
        raise click.UsageError("Give each --header as NAME=VALUE.")
    line = shlex.split(command) if command else []
    config = registry.ServerConfig(
        mcp_server_type="stdio" if command else "sse" if sse else "streamable_http",
        command=line[0] if line else None,
        args=line[1:],
        server_url=url,
        auth_token=token,
        custom_headers={k: v for k, _sep, v in pairs},
    )
    with local_service(database) as (service, p):
        registry.register(service, registry.server_from(p, name, config))
        tools = registry.tools(service, p, name)
    click.echo(f"Registered {name}: {', '.join(t['name'] for t in tools) or 'no tools'}.")


@mcp.command("list")
@click.option("--refresh", is_flag=True, help="Ask each server for its tools now.")
@click.option("--database", help="SQLite file (default: the user's memgpt database).")
def list_servers(refresh: bool, database: str | None) -> None:
    """The registered MCP servers and their tools."""
    from memgpt.server import mcp_registry as registry
    from memgpt.server.mcp_server import local_service

    with local_service(database) as (service, p):
        for server in registry.list_servers(service, p):
            line = [server.command or "", *server.args]
            where = shlex.join(line) if server.kind == "stdio" else server.url
            tools = registry.tools(service, p, server.id, refresh=refresh)
            click.echo(f"{server.name}  {server.kind}  {where}")
            click.echo(f"  tools: {', '.join(t['name'] for t in tools) or 'none'}")


@mcp.command()
@click.argument("name")
@click.option("--database", help="SQLite file (default: the user's memgpt database).")
def remove(name: str, database: str | None) -> None:
    """Remove an MCP server; agents lose its tools."""
    from memgpt.server import mcp_registry as registry
    from memgpt.server.mcp_server import local_service

    with local_service(database) as (service, p):
        registry.remove(service, p, name)
    click.echo(f"Removed {name}.")
