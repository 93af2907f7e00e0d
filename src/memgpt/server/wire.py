"""memgpt records rendered in Letta's wire shapes, so both lines of the official SDK parse them.

One memgpt assistant message (inner thoughts + one function call) becomes a
`reasoning_message` and either an `assistant_message` (send_message) or a
`tool_call_message`; its result becomes a `tool_return_message` (none for
send_message, whose delivery is the assistant message). The parts share the memgpt
message's id, as Letta's parts of one message do, so `after=<id>` pages by message.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from memgpt.agent import events
from memgpt.agent.agent import RunContext
from memgpt.llm.streaming import THOUGHTS
from memgpt.schemas import (
    AgentState,
    Block,
    EmbeddingConfig,
    EventType,
    LLMConfig,
    Message,
    OpenFile,
    Passage,
    StopReason,
    Usage,
    failed_calls,
    function_return,
    function_succeeded,
    inner_thoughts,
)
from memgpt.store.accounts import AgentOwner, SourceOwner, UploadedFile, UserTool
from memgpt.store.base import Run, RunStep, Source
from memgpt.store.mcp_servers import McpServer
from memgpt.tools.files import FILE_FUNCTION_NAMES
from memgpt.tools.mcp import schema
from memgpt.tools.multi_agent import MULTI_AGENT_FUNCTIONS
from memgpt.tools.sandbox import public_schema
from memgpt.tools.schema import INNER_THOUGHTS, REQUEST_HEARTBEAT, Function
from memgpt.tools.web import WEB_FUNCTION_NAMES

AGENT_TYPE = "memgpt_agent"  # Letta's name for the paper's agent: send_message, heartbeats
SEND_MESSAGE = "send_message"
# Letta's tool types for the built-in functions that are not memory functions.
# Letta's kinds of memgpt's own functions; the others are memory functions.
_BUILTIN_TYPES = {
    SEND_MESSAGE: "letta_core",
    **dict.fromkeys(WEB_FUNCTION_NAMES, "letta_builtin"),
    **dict.fromkeys(MULTI_AGENT_FUNCTIONS, "letta_multi_agent_core"),
    **dict.fromkeys(FILE_FUNCTION_NAMES, "letta_files_core"),
}
_IDS = uuid.UUID("6f1c2a4e-2d0b-4c59-9a51-6d4b0a7f0c11")  # namespace for derived ids

STOP_REASONS = {
    StopReason.END_TURN: "end_turn",
    StopReason.TOOL_RULE: "tool_rule",
    StopReason.MAX_STEPS: "max_steps",
    StopReason.LLM_ERROR: "llm_api_error",
    StopReason.INVALID_FUNCTION_CALL: "invalid_tool_call",
    StopReason.CONTEXT_TOO_SMALL: "context_window_overflow_in_system_prompt",
    StopReason.CANCELLED: "cancelled",
    StopReason.REQUIRES_APPROVAL: "requires_approval",
}
_LLM_ENDPOINTS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "local": "llamacpp",
    "scripted": "openai",
}
_EMBEDDING_ENDPOINTS = {"openai": "openai", "local": "hugging-face", "hash": "hugging-face"}


def derived_id(prefix: str, *parts: str) -> str:
    """A stable id for something memgpt names by label or name (blocks, base tools)."""
    return f"{prefix}-{uuid.uuid5(_IDS, '/'.join(parts))}"


def _time(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


# agents


def llm_config(config: LLMConfig) -> dict[str, Any]:
    """Letta's llm_config; each field is one a create or modify accepts back unchanged."""
    return {
        "model": config.model,
        "model_endpoint_type": _LLM_ENDPOINTS[config.provider],
        "model_endpoint": config.base_url,
        "provider_name": config.provider_name,
        "context_window": config.context_window,
        "max_tokens": config.max_output_tokens,
        "temperature": config.temperature,
        "put_inner_thoughts_in_kwargs": True,
        "handle": config.handle,
    }


def embedding_config(config: EmbeddingConfig) -> dict[str, Any]:
    return {
        "embedding_endpoint_type": _EMBEDDING_ENDPOINTS[config.provider],
        "embedding_endpoint": config.base_url,
        "embedding_model": config.model,
        "embedding_dim": config.dim,
        "handle": f"{config.provider}/{config.model}",
    }


def block(b: Block) -> dict[str, Any]:
    return {
        "id": b.id,
        "label": b.label,
        "value": b.value,
        "limit": b.limit,
        "description": b.description,
        "metadata": {},
        "read_only": False,
        "is_template": False,
    }


def file_block(state: AgentState, f: OpenFile) -> dict[str, Any]:
    """An open file as Letta shows it: a block labelled with the file's name."""
    file_id = derived_id("file", f.source_id, f.name)
    return {
        "id": derived_id("block", state.id, file_id),
        "label": f.name,
        "value": f.value,
        "limit": state.per_file_view_window_char_limit,
        "description": None,
        "metadata": {},
        "read_only": True,
        "is_template": False,
        "file_id": file_id,
        "source_id": f.source_id,
        "is_open": True,
        "last_accessed_at": _time(f.accessed_at),
    }


def agent(
    state: AgentState,
    owner: AgentOwner,
    tools: list[dict[str, Any]],
    sources: list[dict[str, Any]],
) -> dict[str, Any]:
    """The agent with its blocks, tools and attached sources embedded: 0.1.x expects them
    by default and 1.x parses them whether or not it asked with `include=`."""
    blocks = [block(b) for b in state.blocks]
    kind = "sleeptime_agent" if state.sleeptime_of else AGENT_TYPE
    return {
        "id": state.id,
        "name": owner.name,
        "agent_type": kind,
        "enable_sleeptime": bool(state.sleeptime_agent_id),
        # memgpt's own: the sleep-time agent, and timed heartbeats (server/scheduler.py)
        "sleeptime_agent_id": state.sleeptime_agent_id,
        "heartbeat_interval_s": state.heartbeat_interval_s,
        "system": state.system,
        "description": None,
        "metadata": {},
        "tags": state.tags,
        "llm_config": llm_config(state.llm),
        "embedding_config": embedding_config(state.embedding),
        "model": state.llm.handle,
        "embedding": f"{state.embedding.provider}/{state.embedding.model}",
        "memory": {
            "blocks": blocks,
            "file_blocks": [file_block(state, f) for f in state.open_files],
            "prompt_template": "",
            "agent_type": kind,
        },
        "blocks": blocks,
        "tools": tools,
        "sources": sources,
        "tool_rules": [r.model_dump() for r in state.tool_rules],
        "max_files_open": state.max_files_open,
        "per_file_view_window_char_limit": state.per_file_view_window_char_limit,
        "created_by_id": owner.user_id,
        "created_at": _time(state.created_at),
        "updated_at": _time(state.memory_edited_at),
    }


# tools


def tool_type(name: str) -> str:
    """Letta's kind of one of memgpt's own functions."""
    return _BUILTIN_TYPES.get(name, "letta_memory_core")


def base_tool(function: Function) -> dict[str, Any]:
    return {
        "id": derived_id("tool", "memgpt-base", function.name),
        "name": function.name,
        "description": function.description,
        "tool_type": tool_type(function.name),
        "source_type": "python",
        "source_code": None,
        "json_schema": public_schema(function.schema()),
        "tags": ["memgpt-base"],
        "return_char_limit": None,
        "metadata": {},
    }


def user_tool(tool: UserTool) -> dict[str, Any]:
    return {
        "id": tool.id,
        "name": tool.name,
        "description": tool.description,
        "tool_type": "custom",
        "source_type": "python",
        "source_code": tool.source_code,
        "json_schema": public_schema(tool.json_schema),
        "tags": tool.tags,
        "return_char_limit": None,
        "metadata": {},
        "created_at": _time(tool.created_at),
        "default_requires_approval": tool.default_requires_approval,
    }


def mcp_tool(server: McpServer, tool: dict[str, Any]) -> dict[str, Any]:
    """One of an MCP server's tools as a Letta tool of type external_mcp."""
    return {
        "id": derived_id("tool", server.id, tool["name"]),
        "name": tool["name"],
        "description": tool["description"],
        "tool_type": "external_mcp",
        "source_type": "python",
        "source_code": None,
        "json_schema": public_schema(schema(tool)),
        "tags": [f"mcp:{server.name}"],
        "return_char_limit": None,
        "metadata": {"mcp": {"server_name": server.name, "server_id": server.id}},
    }


def mcp_server(server: McpServer) -> dict[str, Any]:
    """A server in both SDK lines' shapes (1.x `mcp_server_type`, 0.1.x `type`). Header
    values, the token among them, are not sent back."""
    return {
        "id": server.id,
        "server_name": server.name,
        "mcp_server_type": server.kind,
        "type": server.kind,
        **(
            {"command": server.command, "args": server.args, "env": None}
            if server.kind == "stdio"
            else {
                "server_url": server.url,
                "auth_header": None,
                "auth_token": None,
                "custom_headers": None,
            }
        ),
    }


# messages


def _arguments(call_arguments: str) -> dict[str, Any] | None:
    try:
        args = json.loads(call_arguments)
    except ValueError:
        return None
    return args if isinstance(args, dict) else None


def _base(message: Message, message_type: str) -> dict[str, Any]:
    return {
        "id": message.id,
        "date": _time(message.created_at),
        "message_type": message_type,
        "name": None,
        "otid": None,
        "sender_id": None,
        "step_id": None,
        "run_id": None,
        "seq_id": message.seq,
    }


def messages(
    history: list[Message], *, include_events: bool, failed: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """Letta messages for memgpt messages, in order. `include_events` keeps the user-role
    events (a listing shows them; a reply to a message does not); `failed` names calls
    whose results are not in `history` but failed."""
    out: list[dict[str, Any]] = []
    # A send_message that failed (the tool rules refused it) delivered nothing: it shows as
    # the call it was, with its failed result, never as a reply.
    failed = failed | failed_calls(history)
    for m in history:
        if m.role == "user" and m.event == EventType.APPROVAL:
            if include_events:
                out.append(_approval_response(m))
        elif m.role == "user":
            if include_events:
                text = m.text if m.event == EventType.USER_MESSAGE else events.pack(m)
                out.append({**_base(m, "user_message"), "content": text})
        elif m.role == "assistant":
            out += _assistant(m, failed)
        elif m.name != SEND_MESSAGE or m.tool_call_id in failed:
            out.append(_tool_return(m))
    return out


def _assistant(m: Message, failed: frozenset[str]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if thoughts := inner_thoughts(m):
        parts.append(
            {**_base(m, "reasoning_message"), "reasoning": thoughts, "source": "reasoner_model"}
        )
    for call in m.tool_calls[:1]:  # one function runs per step; the loop rejects the rest
        args = _arguments(call.arguments)
        kind = "approval_request_message" if call.asked_approval else "tool_call_message"
        if (
            kind == "tool_call_message"
            and call.name == SEND_MESSAGE
            and call.id not in failed
            and args
            and "message" in args
        ):
            parts.append({**_base(m, "assistant_message"), "content": str(args["message"])})
            continue
        shown = {
            k: v for k, v in (args or {}).items() if k not in (INNER_THOUGHTS, REQUEST_HEARTBEAT)
        }
        wire_call = {
            "name": call.name,
            "arguments": json.dumps(shown) if args is not None else call.arguments,
            "tool_call_id": call.id,
        }
        parts.append({**_base(m, kind), "tool_call": wire_call, "tool_calls": [wire_call]})
    return parts


def _approval_response(m: Message) -> dict[str, Any]:
    """The user's answer to an approval request, in both SDK lines' shapes."""
    packet = json.loads(m.text)
    answer = {k: packet[k] for k in ("approve", "reason")}
    return {
        **_base(m, "approval_response_message"),
        "approval_request_id": packet["approval_request_id"],
        **answer,
        "approvals": [{"type": "approval", "tool_call_id": packet["tool_call_id"], **answer}],
    }


def delta(message_id: str, field: str, text: str) -> dict[str, Any]:
    """A piece of a reply still being written: Letta's token-streaming chunk, sharing the
    id of the message it becomes."""
    base = _base(Message(id=message_id, role="assistant"), "reasoning_message")
    if field == THOUGHTS:
        return {**base, "reasoning": text, "source": "reasoner_model"}
    return {**base, "message_type": "assistant_message", "content": text}


def _tool_return(m: Message) -> dict[str, Any]:
    status = "success" if function_succeeded(m) else "error"
    returned = function_return(m)
    text = "None" if returned is None else returned  # Letta's text for a function's None
    return {
        **_base(m, "tool_return_message"),
        "name": m.name,
        "tool_return": text,
        "status": status,
        "tool_call_id": m.tool_call_id or "",
        "stdout": None,
        "stderr": None,
        "tool_returns": [
            {
                "tool_call_id": m.tool_call_id or "",
                "status": status,
                "tool_return": text,
                "type": "tool",
            }
        ],
    }


def stop_reason(reason: StopReason) -> dict[str, Any]:
    return {"message_type": "stop_reason", "stop_reason": STOP_REASONS[reason]}


def usage(spent: Usage, steps: int | None = None) -> dict[str, Any]:
    """Letta's usage statistics; `steps` counts a step whose model call failed too."""
    return {
        "message_type": "usage_statistics",
        "prompt_tokens": spent.prompt_tokens,
        "completion_tokens": spent.completion_tokens,
        "total_tokens": spent.total_tokens,
        "cached_input_tokens": spent.cached_prompt_tokens,
        "step_count": spent.step_count if steps is None else steps,
    }


def run(r: Run) -> dict[str, Any]:
    """A run in the shape of Letta's Run (both SDK lines read it)."""
    return {
        "id": r.id,
        "agent_id": r.agent_id,
        "status": r.status,
        "stop_reason": r.stop_reason,
        "background": r.background,
        "created_at": _time(r.created_at),
        "completed_at": _time(r.completed_at) if r.completed_at else None,
        "total_duration_ns": (
            int((r.completed_at - r.created_at).total_seconds() * 1e9) if r.completed_at else None
        ),
        "metadata": {},
    }


def step(s: RunStep) -> dict[str, Any]:
    """A step in the shape of Letta's Step: its model, tokens, time and stop reason."""
    return {
        "id": s.id,
        "run_id": s.run_id,
        "agent_id": s.agent_id,
        "model": s.model,
        "prompt_tokens": s.prompt_tokens,
        "completion_tokens": s.completion_tokens,
        "cached_input_tokens": s.cached_prompt_tokens,
        "total_tokens": s.prompt_tokens + s.completion_tokens,
        "status": "success",  # only committed steps are recorded
        "stop_reason": STOP_REASONS[StopReason(s.stop_reason)] if s.stop_reason else None,
        "duration_ns": s.duration_ns,
        "created_at": _time(s.created_at),
    }


def in_run(wire_messages: list[dict[str, Any]], run: RunContext | None) -> list[dict[str, Any]]:
    """The messages with their run's id and their step's, as Letta's carry them."""
    if run is not None:
        for m in wire_messages:
            m["run_id"], m["step_id"] = run.id, run.step_ids.get(m["id"])
    return wire_messages


def response(
    wire_messages: list[dict[str, Any]], reason: StopReason, spent: Usage, steps: int
) -> dict[str, Any]:
    return {
        "messages": wire_messages,
        "stop_reason": stop_reason(reason),
        "usage": usage(spent, steps),
    }


# archival memory


def passage(p: Passage, embedding: EmbeddingConfig | None = None) -> dict[str, Any]:
    return {
        "id": p.id,
        "text": p.text,
        "agent_id": p.agent_id,
        "archive_id": None,
        "source_id": p.source,
        "file_id": None,
        "metadata": p.metadata,
        "tags": p.metadata.get("tags", []),
        "embedding": None,  # vectors stay server-side; they are large and model-specific
        "embedding_config": embedding_config(embedding) if embedding else None,
        "created_at": _time(p.created_at),
        "is_deleted": False,
    }


# document sources (Letta's "sources", renamed "folders" in the 1.x line)


def source(s: Source, owner: SourceOwner | None) -> dict[str, Any]:
    """A source; one made outside the server (`memgpt load`) has no owner row and shows
    its store name."""
    return {
        "id": s.id,
        "name": owner.name if owner else s.name,
        "description": s.description,
        "instructions": None,
        "metadata": {},
        "embedding_config": embedding_config(s.embedding),
        "created_by_id": owner.user_id if owner else None,
        "last_updated_by_id": owner.user_id if owner else None,
        "created_at": _time(s.created_at),
        "updated_at": _time(s.created_at),
    }


def uploaded_file(f: UploadedFile) -> dict[str, Any]:
    done = f.status == "completed"
    return {
        "id": f.id,
        "source_id": f.source_id,
        "folder_id": f.source_id,
        "file_name": f.file_name,
        "original_file_name": f.file_name,
        "file_path": None,
        "file_type": f.file_type,
        "file_size": f.file_size,
        "processing_status": f.status,
        "error_message": f.error,
        "total_chunks": f.chunks if done else None,
        "chunks_embedded": f.chunks,
        "created_at": _time(f.created_at),
        "updated_at": _time(f.updated_at),
    }
