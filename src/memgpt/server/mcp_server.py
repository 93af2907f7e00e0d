"""memgpt as an MCP server: agents offered to any MCP client (Claude Code, Claude Desktop,
Cursor, ...) through the official `mcp` SDK, over stdio (`memgpt mcp serve`) or
streamable HTTP at /mcp on `memgpt server` (`mcp_endpoint`).

Every tool is one call into `AgentService` as the caller, so the MCP client sees what the
REST API would show the same caller: over HTTP the user of the request's API key (the
same keys, checked before the body is read, see `edge`), or the local user in `--no-auth`
mode; over stdio the local user, or the user of $MEMGPT_API_KEY when it is set.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from memgpt.errors import MemGPTError
from memgpt.memory import recall
from memgpt.memory.recall import SearchError
from memgpt.memory.working import MemoryEditError
from memgpt.server.auth import Principal, ensure_anonymous_user
from memgpt.server.requests import UpdateBlock
from memgpt.server.service import AgentService
from memgpt.server.settings import ServerConfigError, ServerSettings
from memgpt.server.steps import StepRunner

API_KEY_ENV = "MEMGPT_API_KEY"
STDIO_WORKERS = 4  # one MCP client at a time: a few steps at once is plenty

INSTRUCTIONS = (
    "memgpt agents remember: each has working-context blocks always in its view, a recall "
    "storage of every message, and an archival memory searched by meaning. Name an agent "
    "by its id or name (list_agents shows them)."
)

CallerOf = Callable[[Context], Principal]


def build(service: AgentService, steps: StepRunner, caller: CallerOf) -> MCPServer:
    """The MCP tools; `caller` tells who is asking in a tool call's context."""
    with _root_logging_kept():
        server = MCPServer("memgpt", version=version("memgpt"), instructions=INSTRUCTIONS)

    def tool(fn: Callable[..., Awaitable[Any]]) -> None:
        server.tool()(_refusing(fn))

    async def agent_id(ctx: Context, agent: str) -> tuple[Principal, str]:
        p = caller(ctx)
        return p, await steps.run(service.resolve, p, agent)

    @tool
    async def list_agents(ctx: Context) -> list[dict[str, Any]]:
        """The agents you can use: their id, name, model and working-context block labels."""
        agents = await steps.run(
            service.list_agents,
            caller(ctx),
            tags=[],
            match_all_tags=False,
            name=None,
            after=None,
            limit=None,
        )
        return [
            {
                "id": a["id"],
                "name": a["name"],
                "model": a["model"],
                "blocks": [b["label"] for b in a["blocks"]],
            }
            for a in agents
        ]

    @tool
    async def send_message(agent: str, message: str, ctx: Context) -> dict[str, Any]:
        """Send the agent a user message and get its reply (what it sent with send_message),
        once it has finished thinking, calling functions and editing its memory.

        Args:
            agent: The agent's id or name.
            message: What the user says.
        """
        p, aid = await agent_id(ctx, agent)
        result = await steps.call(
            aid, lambda _on_messages, _on_delta=None: service.send(p, aid, message)
        )
        replies = [
            m["content"] for m in result["messages"] if m["message_type"] == "assistant_message"
        ]
        return {
            "reply": "\n\n".join(replies),
            "stop_reason": result["stop_reason"]["stop_reason"],
            "messages": result["messages"],
        }

    @tool
    async def read_memory_blocks(agent: str, ctx: Context) -> list[dict[str, Any]]:
        """The agent's working-context blocks (always in its view): label, value, limit.

        Args:
            agent: The agent's id or name.
        """
        p, aid = await agent_id(ctx, agent)
        return await steps.run(service.blocks, p, aid)

    @tool
    async def edit_memory_block(agent: str, label: str, value: str, ctx: Context) -> dict[str, Any]:
        """Replace the value of one of the agent's working-context blocks.

        Args:
            agent: The agent's id or name.
            label: The block, e.g. "human" or "persona".
            value: The block's new text, within its limit.
        """
        p, aid = await agent_id(ctx, agent)
        async with steps.turn(aid):  # not in the middle of a message the agent is processing
            return await steps.run(service.update_block, p, aid, label, UpdateBlock(value=value))

    @tool
    async def search_conversation(agent: str, query: str, ctx: Context, page: int = 0) -> str:
        """Search the agent's recall storage (every message it ever saw) by meaning and
        keywords, best matches first.

        Args:
            agent: The agent's id or name.
            query: Words to look for.
            page: Which page of results, from 0.
        """
        p, aid = await agent_id(ctx, agent)

        def search() -> str:  # by meaning too, with the agent's own embedder
            embedder = service.open(p, aid).embedder
            return recall.search_text(service.store, aid, query, page, embedder)

        return await steps.run(search)

    @tool
    async def search_archival_memory(
        agent: str, query: str, ctx: Context, top_k: Annotated[int, Field(ge=1, le=100)] = 10
    ) -> dict[str, Any]:
        """Search the agent's archival memory (its saved passages and attached documents) by
        meaning and keywords, best matches first.

        Args:
            agent: The agent's id or name.
            query: What to look for.
            top_k: How many passages to return, at most 100.
        """
        p, aid = await agent_id(ctx, agent)
        return await steps.run(service.search_passages, p, aid, query, top_k)

    @tool
    async def insert_archival_memory(agent: str, text: str, ctx: Context) -> dict[str, Any]:
        """Save a passage to the agent's archival memory, to be found later by meaning.

        Args:
            agent: The agent's id or name.
            text: The passage; make it self-contained.
        """
        p, aid = await agent_id(ctx, agent)
        return (await steps.run(service.insert_passage, p, aid, text))[0]

    return server


@contextmanager
def _root_logging_kept() -> Iterator[None]:
    """The SDK sets up the root logger when a server is made (`logging.basicConfig` at
    INFO): the server's logging stays as uvicorn and the operator set it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _refusing(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Errors a caller can cause reach the client as their sentence (the SDK shows other
    exceptions' text only in the server's log)."""

    @functools.wraps(fn)
    async def refusing(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except (MemGPTError, SearchError, MemoryEditError) as exc:
            raise ToolError(str(exc)) from exc

    return refusing


# stdio: `memgpt mcp serve`


def serve_stdio(database: str | Path | None = None) -> None:
    """Serve MCP on stdin/stdout until the client closes it."""
    import anyio

    with local_service(database) as (service, principal):
        steps = StepRunner(STDIO_WORKERS)
        server = build(service, steps, lambda _ctx: principal)
        try:
            anyio.run(server.run_stdio_async)
        finally:
            steps.pool.shutdown(wait=False, cancel_futures=True)


@contextmanager
def local_service(
    database: str | Path | None = None,
) -> Iterator[tuple[AgentService, Principal]]:
    """The service on a local database, and whom a local command acts as: the local user,
    or the user of the API key in $MEMGPT_API_KEY."""
    from memgpt.client import MemGPT
    from memgpt.store.accounts import accounts_for

    settings = ServerSettings(database=Path(database) if database else None)
    client = MemGPT(settings.database)
    try:
        accounts = accounts_for(client.store)
        principal = _stdio_caller(accounts)
        yield AgentService(client, accounts, settings), principal
    finally:
        client.close()


def _stdio_caller(accounts) -> Principal:
    key = os.environ.get(API_KEY_ENV)
    if not key:
        return ensure_anonymous_user(accounts)
    user = accounts.authenticate(key)
    if user is None:
        raise ServerConfigError(
            f"${API_KEY_ENV} holds no valid API key; create one with `memgpt server "
            "create-key`, or unset it to act as the local user."
        )
    return Principal(user.id, user.organization_id)
