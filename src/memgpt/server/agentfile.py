"""Agent files (.af): an agent's blocks, tools and whole message history in one JSON file.

The layout follows Letta's multi-entity agent file (top-level `agents`, `blocks`,
`tools`, ... cross-referenced by file-local ids), so the file reads like theirs; the
messages carry memgpt's own fields (event kind, in-context flag), which a memgpt import
needs to rebuild the FIFO queue and recall storage exactly.
"""

from __future__ import annotations

from typing import Any

from memgpt.schemas import AgentState, EmbeddingConfig, LLMConfig, Message, ToolCall, utcnow
from memgpt.server import wire
from memgpt.server.auth import Principal
from memgpt.server.requests import CreateAgent, CreateBlock, CreateTool
from memgpt.server.service import AgentService
from memgpt.server.toolbox import create_tool, set_tools
from memgpt.tools.base import BASE_FUNCTIONS

FORMAT = "memgpt-agent-file/1"


def export(service: AgentService, p: Principal, agent_id: str) -> dict[str, Any]:
    state, owner = service.state(p, agent_id)
    history = service.store.list_messages(
        agent_id, limit=service.store.count_messages(agent_id) or 1
    )
    blocks = [
        {
            "id": f"block-{i}",
            "label": b.label,
            "value": b.value,
            "limit": b.limit,
            "description": b.description,
        }
        for i, b in enumerate(state.blocks)
    ]
    tools = []
    for name in state.tool_names or BASE_FUNCTIONS:
        if name in BASE_FUNCTIONS:
            tools.append(
                {"id": f"tool-{len(tools)}", "name": name, "tool_type": "letta_memory_core"}
            )
        elif tool := service.accounts.get_tool(p.organization_id, name):
            tools.append(
                {
                    "id": f"tool-{len(tools)}",
                    "name": tool.name,
                    "tool_type": "custom",
                    "source_type": "python",
                    "source_code": tool.source_code,
                    "description": tool.description,
                    "tags": tool.tags,
                    "json_schema": tool.json_schema,
                }
            )
    return {
        "agents": [
            {
                "id": "agent-0",
                "name": owner.name,
                "agent_type": wire.AGENT_TYPE,
                "system": state.system,
                "tags": state.tags,
                "block_ids": [b["id"] for b in blocks],
                "tool_ids": [t["id"] for t in tools],
                "llm_config": wire.llm_config(state.llm),
                "embedding_config": wire.embedding_config(state.embedding),
                "messages": [_message(m) for m in history],
                "in_context_message_ids": [m.id for m in history if m.in_context],
                "memgpt": {
                    "summary": state.summary,
                    "llm": state.llm.model_dump(),
                    "embedding": state.embedding.model_dump(),
                    "memory_warning_fraction": state.memory_warning_fraction,
                    "max_chained_steps": state.max_chained_steps,
                },
            }
        ],
        "blocks": blocks,
        "tools": tools,
        "groups": [],
        "files": [],
        "sources": [],
        "mcp_servers": [],
        "metadata": {"format": FORMAT},
        "created_at": utcnow().isoformat(),
    }


def _message(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "role": m.role,
        "event": m.event,
        "content": [{"type": "text", "text": m.text}],
        "tool_calls": [c.model_dump() for c in m.tool_calls],
        "tool_call_id": m.tool_call_id,
        "name": m.name,
        "created_at": m.created_at.isoformat(),
        "in_context": m.in_context,
    }


class AgentFileError(ValueError):
    pass


def import_file(
    service: AgentService,
    p: Principal,
    data: dict[str, Any],
    *,
    name: str | None,
    model: str | None,
) -> list[str]:
    """Create the file's agents for the caller; return their new ids."""
    if data.get("metadata", {}).get("format") != FORMAT:
        raise AgentFileError(
            "This is not a memgpt agent file (metadata.format is missing); export it from memgpt."
        )
    blocks = {b["id"]: b for b in data.get("blocks", [])}
    tools = {t["id"]: t for t in data.get("tools", [])}
    created = []
    for entry in data["agents"]:
        saved = entry.get("memgpt", {})
        tool_names = []
        for tool_id in entry.get("tool_ids", []):
            tool = tools[tool_id]
            if tool.get("tool_type") == "custom":
                create_tool(service, p, CreateTool(**tool), upsert=True)
            tool_names.append(tool["name"])
        request = CreateAgent(
            name=name or entry["name"],
            system=entry["system"],
            tags=entry.get("tags", []),
            memory_blocks=[CreateBlock(**blocks[i]) for i in entry.get("block_ids", [])],
            model=model,
            context_window_limit=None if model else saved.get("llm", {}).get("context_window"),
        )
        if not model and "llm" in saved:
            request.model = f"{saved['llm']['provider']}/{saved['llm']['model']}"
        agent = service.create_agent(p, request)
        agent_id = agent["id"]
        set_tools(service, p, agent_id, tool_names)
        _restore(service, agent_id, entry, saved, keep_model=model is None)
        created.append(agent_id)
    return created


def _restore(
    service: AgentService,
    agent_id: str,
    entry: dict[str, Any],
    saved: dict[str, Any],
    *,
    keep_model: bool,
) -> None:
    """Messages (with their in-context flags), the summary and, unless the import chose
    another model, the full model and embedding settings, as they were exported."""
    messages = [
        Message(
            role=m["role"],
            event=m.get("event"),
            text="".join(part.get("text", "") for part in m.get("content", [])),
            tool_calls=[ToolCall(**c) for c in m.get("tool_calls", [])],
            tool_call_id=m.get("tool_call_id"),
            name=m.get("name"),
            created_at=m["created_at"],
            in_context=m.get("in_context", True),
        )
        for m in entry.get("messages", [])
    ]
    state: AgentState = service.store.get_agent(agent_id)
    state.summary = saved.get("summary", "")
    if keep_model and "llm" in saved:
        state.llm = LLMConfig.model_validate(saved["llm"])
        state.embedding = EmbeddingConfig.model_validate(saved["embedding"])
    with service.store.transaction():
        service.store.append_messages(agent_id, messages)
        service.store.save_agent(state)
    service.forget(agent_id)
