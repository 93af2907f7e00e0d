"""The MCP servers each organization registered, beside the accounts in the agent store's
database (one table, the same statements on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from memgpt.schemas import new_id, utcnow
from memgpt.store.base import StoreError
from memgpt.store.sql.seam import Row
from memgpt.store.sql.store import SQLStore

_COLUMNS = (
    "id, organization_id, name, kind, command, args, url, headers, tools, tools_at, created_at"
)


class McpServer(BaseModel):
    """A registered MCP server and the tools it offered when last asked."""

    id: str = Field(default_factory=lambda: new_id("mcp_server"))
    organization_id: str
    name: str
    kind: Literal["stdio", "sse", "streamable_http"]
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)  # the token's header among them
    tools: list[dict[str, Any]] = Field(default_factory=list)  # {name, description, inputSchema}
    tools_at: datetime | None = None  # None: never listed
    created_at: datetime = Field(default_factory=utcnow)


class McpServerStore:
    def __init__(self, store: SQLStore):
        self.store = store

    def save(self, server: McpServer) -> None:
        """Add the server or replace its settings and tools; StoreError if another of the
        organization's servers has its name."""
        s = self.store
        with s.transaction():
            other = s._one(
                "SELECT id FROM mcp_servers WHERE organization_id = ? AND name = ?",
                (server.organization_id, server.name),
            )
            if other and other["id"] != server.id:
                raise StoreError(
                    f"An MCP server named {server.name!r} already exists; pick another name."
                )
            s._run(
                f"INSERT INTO mcp_servers ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind,"
                " command = excluded.command, args = excluded.args, url = excluded.url,"
                " headers = excluded.headers, tools = excluded.tools,"
                " tools_at = excluded.tools_at",
                (
                    server.id,
                    server.organization_id,
                    server.name,
                    server.kind,
                    server.command,
                    s._json(server.args),
                    server.url,
                    s._json(server.headers),
                    s._json(server.tools),
                    s._ts(server.tools_at) if server.tools_at else None,
                    s._ts(server.created_at),
                ),
            )

    def _server(self, row: Row) -> McpServer:
        return self.store._record(
            McpServer, row, times=("tools_at", "created_at"), json=("args", "headers", "tools")
        )

    def get(self, organization_id: str, id_or_name: str) -> McpServer | None:
        row = self.store._one(
            "SELECT * FROM mcp_servers WHERE organization_id = ? AND (id = ? OR name = ?)",
            (organization_id, id_or_name, id_or_name),
        )
        return self._server(row) if row else None

    def list(self, organization_id: str) -> list[McpServer]:
        rows = self.store._query(
            "SELECT * FROM mcp_servers WHERE organization_id = ? ORDER BY created_at, id",
            (organization_id,),
        )
        return [self._server(r) for r in rows]

    def delete(self, organization_id: str, server_id: str) -> bool:
        return bool(
            self.store._run(
                "DELETE FROM mcp_servers WHERE organization_id = ? AND id = ?",
                (organization_id, server_id),
            )
        )
