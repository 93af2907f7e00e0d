"""Tools over the wire: the base memory functions every agent has, and user tools an
organization writes in Python. User tool source only ever runs in the sandbox."""

from __future__ import annotations

from typing import Any

from memgpt.agent.agent import agent_lock
from memgpt.schemas import AgentState, new_id, utcnow
from memgpt.server import wire
from memgpt.server.auth import Principal
from memgpt.server.errors import ConflictError, NotFoundError
from memgpt.server.requests import CreateTool, UpdateTool
from memgpt.server.service import AgentService, resolve_tools
from memgpt.store.accounts import UserTool
from memgpt.tools import rules, sandbox


def _builtin_by_id(service: AgentService) -> dict[str, str]:
    return {wire.derived_id("tool", "memgpt-base", name): name for name in service.builtin}


def tool_name(service: AgentService, p: Principal, id_or_name: str) -> str:
    """A tool's name from its id or name: a built-in function, or the organization's tool."""
    if id_or_name in service.builtin:
        return id_or_name
    if id_or_name in (by_id := _builtin_by_id(service)):
        return by_id[id_or_name]
    if tool := service.accounts.get_tool(p.organization_id, id_or_name):
        return tool.name
    if found := service.mcp_tool(p.organization_id, id_or_name):
        return _unique_mcp_name(service, p, found[1]["name"])
    raise NotFoundError(f"There is no tool {id_or_name!r}.")


def _unique_mcp_name(service: AgentService, p: Principal, name: str) -> str:
    """An MCP tool's name, which the agent holds it by: one server of the organization's
    may offer it (as one Letta tool of a name per organization)."""
    offering = [
        s.name
        for s in service.mcp_servers.list(p.organization_id)
        if any(t["name"] == name for t in s.tools)
    ]
    if len(offering) > 1:
        raise ConflictError(
            f"The MCP servers {offering[0]!r} and {offering[1]!r} both offer a tool named "
            f"{name!r}; remove one of them to attach it."
        )
    return name


def agent_tools(service: AgentService, p: Principal, state: AgentState) -> list[dict[str, Any]]:
    out = []
    for name in state.tool_names or service.defaults:
        if name in service.builtin:
            out.append(wire.base_tool(service.builtin[name]))
        elif tool := service.accounts.get_tool(p.organization_id, name):
            out.append(wire.user_tool(tool))
        elif found := service.mcp_tool(p.organization_id, name):
            out.append(wire.mcp_tool(*found))
    return out


def set_tools(service: AgentService, p: Principal, agent_id: str, ids: list[str]) -> None:
    names = resolve_tools(service, p, ids)
    with agent_lock(agent_id):
        state, _ = service.state(p, agent_id)
        added = [n for n in names if n not in (state.tool_names or service.defaults)]
        state.tool_rules = service.default_approvals(p.organization_id, added, state.tool_rules)
        rules.check(state.tool_rules, names)
        state.tool_names = names
        service.store.save_agent(state)
        service.forget(agent_id)


def attach_tools(service: AgentService, p: Principal, agent_id: str, ids: list[str]) -> None:
    state, _ = service.state(p, agent_id)
    current = state.tool_names or list(service.defaults)
    set_tools(service, p, agent_id, [*current, *ids])


def detach_tool(service: AgentService, p: Principal, agent_id: str, id_or_name: str) -> None:
    name = tool_name(service, p, id_or_name)
    state, _ = service.state(p, agent_id)
    current = state.tool_names or list(service.defaults)
    set_tools(service, p, agent_id, [n for n in current if n != name])


def set_approval(
    service: AgentService, p: Principal, agent_id: str, name: str, required: bool
) -> None:
    """Letta's per-agent switch: the agent's requires_approval rule for the tool, added
    or taken away."""
    with agent_lock(agent_id):
        state, _ = service.state(p, agent_id)
        kept = [r for r in state.tool_rules if (r.type, r.tool_name) != ("requires_approval", name)]
        state.tool_rules = kept + ([rules.RequiresApprovalRule(tool_name=name)] if required else [])
        rules.check(state.tool_rules, state.tool_names or service.defaults)
        service.store.save_agent(state)


def list_agent_tools(service: AgentService, p: Principal, agent_id: str) -> list[dict[str, Any]]:
    state, _ = service.state(p, agent_id)
    return agent_tools(service, p, state)


# the organization's tools


def prepare_tool(
    service: AgentService, p: Principal, req: CreateTool, *, upsert: bool = False
) -> UserTool:
    """The tool `req` makes, its schema made in the sandbox; not saved yet."""
    name = sandbox.function_name(req.source_code)
    if name in service.builtin:
        raise ConflictError(f"{name!r} is a built-in memgpt function; give the tool another name.")
    schema = sandbox.describe(req.source_code, name, isolation=service.tool_isolation)
    existing = service.accounts.get_tool(p.organization_id, name)
    if existing is not None and not upsert:
        raise ConflictError(
            f"A tool named {name!r} exists; update it, or upsert with PUT /v1/tools."
        )
    return UserTool(
        **({"id": existing.id} if existing else {}),
        organization_id=p.organization_id,
        name=name,
        description=req.description or schema.get("description", ""),
        source_code=req.source_code,
        json_schema=schema,
        tags=req.tags or [],
        default_requires_approval=req.default_requires_approval,
    )


def create_tool(
    service: AgentService, p: Principal, req: CreateTool, *, upsert: bool = False
) -> dict[str, Any]:
    tool = prepare_tool(service, p, req, upsert=upsert)
    service.accounts.save_tool(tool)
    _reopen_agents(service, p)
    return wire.user_tool(tool)


def _reopen_agents(service: AgentService, p: Principal) -> None:
    """The organization's open agents reopen, so those holding the tool get its new code."""
    for owner in service.accounts.owned_agents(p.organization_id):
        service.forget(owner.agent_id)


def get_tool(service: AgentService, p: Principal, tool_id: str) -> dict[str, Any]:
    if tool_id in (by_id := _builtin_by_id(service)):
        return wire.base_tool(service.builtin[by_id[tool_id]])
    tool = service.accounts.get_tool(p.organization_id, tool_id)
    if tool is None or tool.id != tool_id:
        raise NotFoundError(f"There is no tool {tool_id!r}.")
    return wire.user_tool(tool)


def list_tools(service: AgentService, p: Principal, name: str | None) -> list[dict[str, Any]]:
    tools = [wire.base_tool(f) for f in service.builtin.values()]
    tools += [wire.user_tool(t) for t in service.accounts.list_tools(p.organization_id)]
    return [t for t in tools if name is None or t["name"] == name]


def update_tool(
    service: AgentService, p: Principal, tool_id: str, req: UpdateTool
) -> dict[str, Any]:
    tool = service.accounts.get_tool(p.organization_id, tool_id)
    if tool is None or tool.id != tool_id:
        raise NotFoundError(f"There is no tool {tool_id!r} (base tools cannot be changed).")
    if req.source_code is not None:
        name = sandbox.function_name(req.source_code)
        if name != tool.name:
            raise ConflictError(
                f"The new source defines {name!r}, not {tool.name!r}; keep the name."
            )
        tool.source_code, tool.json_schema = (
            req.source_code,
            sandbox.describe(req.source_code, name, isolation=service.tool_isolation),
        )
    tool.description = req.description if req.description is not None else tool.description
    tool.tags = req.tags if req.tags is not None else tool.tags
    if req.default_requires_approval is not None:  # for agents it is attached to from now
        tool.default_requires_approval = req.default_requires_approval
    service.accounts.save_tool(tool)
    _reopen_agents(service, p)
    return wire.user_tool(tool)


def delete_tool(service: AgentService, p: Principal, tool_id: str) -> None:
    tool = service.accounts.get_tool(p.organization_id, tool_id)
    if tool is None or tool.id != tool_id:
        raise NotFoundError(f"There is no tool {tool_id!r} (base tools cannot be deleted).")
    for owner in service.accounts.owned_agents(p.organization_id):
        state = service.store.get_agent(owner.agent_id)
        if state is not None and tool.name in state.tool_names:
            detach_tool(service, p, owner.agent_id, tool.name)
    service.accounts.delete_tool(p.organization_id, tool_id)


# running tools directly


def _run_result(run: sandbox.ToolRun) -> dict[str, Any]:
    """Both SDK lines' shapes at once: 0.1.x reads a tool return message, 1.x a tool
    execution result."""
    status = "success" if run.ok else "error"
    return {
        "id": new_id("message"),
        "date": utcnow().isoformat(),
        "message_type": "tool_return_message",
        "tool_return": run.result,
        "func_return": run.result,
        "status": status,
        "tool_call_id": "",
        "stdout": [run.stdout] if run.stdout else [],
        "stderr": [run.stderr] if run.stderr else [],
    }


def run_from_source(
    service: AgentService, source_code: str, args: dict[str, Any], name: str | None
) -> dict[str, Any]:
    name = name or sandbox.function_name(source_code)
    return _run_result(sandbox.run(source_code, name, args, isolation=service.tool_isolation))


def run_agent_tool(
    service: AgentService, p: Principal, agent_id: str, name: str, args: dict[str, Any]
) -> dict[str, Any]:
    """1.x: run one of the agent's user tools by name, outside a step."""
    state, _ = service.state(p, agent_id)
    tool = service.accounts.get_tool(p.organization_id, name)
    if tool is None or name not in state.tool_names:
        raise NotFoundError(f"Agent {agent_id!r} has no user tool {name!r} to run.")
    isolation = service.isolation(p.organization_id, tool.name)
    return _run_result(sandbox.run(tool.source_code, tool.name, args, isolation=isolation))
