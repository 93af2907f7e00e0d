"""Agent files (.af): an agent's blocks, tools and whole message history in one JSON file.

The layout follows Letta's multi-entity agent file (top-level `agents`, `blocks`,
`tools`, ... cross-referenced by file-local ids), so the file reads like theirs; the
messages carry memgpt's own fields (event kind, in-context flag), which a memgpt import
needs to rebuild the FIFO queue and recall storage exactly.

An import trusts nothing in the file. It is checked (shapes, ids, references, text) before
anything is written, its history a message at a time as it is written, and clients see
all of it or none (`importing.py`): a file refused leaves nothing behind. Nothing in it
names a path the server opens: Letta's sources, files and other entities are ignored,
names and texts are stored as text, tool source is only ever run in the sandbox, and the
model and embedding are chosen by handle, as the API chooses them (settings a handle
would not give, such as another URL, are refused).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from memgpt.errors import MemGPTError
from memgpt.llm.providers import OLLAMA_BASE_URL
from memgpt.schemas import AgentState, EventType, Message, Role, ToolCall, utcnow
from memgpt.server import wire
from memgpt.server.auth import Principal
from memgpt.server.bounds import (
    BlockLimit,
    ContextWindow,
    OutputTokens,
    TimeoutS,
    Timestamp,
    check_output_budget,
)
from memgpt.server.errors import ConflictError
from memgpt.server.importing import PlannedAgent, write_agents
from memgpt.server.requests import CreateAgent, CreateBlock, CreateTool, clean_text
from memgpt.server.service import AgentService
from memgpt.server.toolbox import prepare_tool
from memgpt.store.accounts import UserTool
from memgpt.tools import rules
from memgpt.tools.rules import ToolRule
from memgpt.tools.sandbox import function_name

FORMAT = "memgpt-agent-file/1"
_RULES = TypeAdapter(list[ToolRule])


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
    for name in state.tool_names or service.defaults:
        if name in service.builtin:
            tools.append(
                {"id": f"tool-{len(tools)}", "name": name, "tool_type": wire.tool_type(name)}
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
                "tool_rules": [r.model_dump() for r in state.tool_rules],
                "llm_config": wire.llm_config(service.models.resolve(state.llm)),
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


class AgentFileError(MemGPTError):
    """A file that cannot be imported; one sentence saying why."""


# The file as an import reads it. Fields memgpt does not read (Letta writes many) are
# ignored; those it reads are checked here, before anything is written.


class _Entity(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Block(_Entity):
    id: str
    label: str = Field(min_length=1)
    value: str = ""
    limit: BlockLimit | None = None
    description: str | None = None


class _Tool(_Entity):
    id: str
    name: str
    tool_type: str | None = None
    source_code: str | None = None
    description: str | None = None
    tags: list[str] | None = None


class _Text(_Entity):
    text: str = ""


class _Message(_Entity):
    role: Role
    event: EventType | None = None
    content: list[_Text] = []
    tool_calls: list[ToolCall] = []
    tool_call_id: str | None = None
    name: str | None = None
    created_at: Timestamp  # compared with the server's own, which carry a zone
    in_context: bool = True


class _Model(_Entity):
    provider: str
    model: str
    provider_name: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    context_window: ContextWindow = 8192
    max_output_tokens: OutputTokens = 1024
    temperature: float | None = Field(None, ge=0, le=2)
    timeout_s: TimeoutS = 60.0

    @model_validator(mode="after")
    def _fits(self) -> _Model:
        if problem := check_output_budget(self.context_window, self.max_output_tokens):
            raise ValueError(problem)
        return self


class _Embedding(_Entity):
    provider: str
    model: str
    base_url: str | None = None
    api_key_env: str | None = None


class _Saved(_Entity):
    summary: str = ""
    llm: _Model | None = None
    embedding: _Embedding | None = None


class _Agent(_Entity):
    name: str
    system: str
    tags: list[str] = []
    block_ids: list[str] = []
    tool_ids: list[str] = []
    tool_rules: list[dict[str, Any]] = []  # read by `_rules`
    messages: list[Any] = []  # each checked as it is written (`_history`)
    memgpt: _Saved = _Saved()


class _File(_Entity):
    agents: list[_Agent] = Field(min_length=1)
    blocks: list[_Block] = []
    tools: list[_Tool] = []


def import_file(
    service: AgentService,
    p: Principal,
    data: Any,
    *,
    name: str | None,
    model: str | None,
) -> list[str]:
    """Create the file's agents for the caller; return their new ids. The whole file is
    checked before anything is written, then written so that clients see all of it or
    nothing (`importing`): a file refused leaves nothing behind."""
    file = _parse(data)
    _check_unique("block", [b.id for b in file.blocks])
    _check_unique("tool", [t.id for t in file.tools])
    new_tools: dict[str, UserTool] = {}  # by name: the tools the organization lacks
    plans = [
        _plan(service, p, file, i, new_tools, name=name, model=model)
        for i in range(len(file.agents))
    ]
    return write_agents(service, p, plans, list(new_tools.values()))


def _parse(data: Any) -> _File:
    metadata = data.get("metadata") if isinstance(data, dict) else None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise AgentFileError(
            "This is not a memgpt agent file (metadata.format is missing); export it from memgpt."
        )
    # Histories are checked a message at a time while they are written: checked here, a
    # large one would hold the interpreter (and every other request) for seconds.
    agents = data.get("agents")
    entries = agents if isinstance(agents, list) else []
    histories = [a.pop("messages", []) if isinstance(a, dict) else None for a in entries]
    try:
        cleaned = clean_text(data)
        for entry, history in zip(cleaned["agents"] if entries else [], histories, strict=True):
            if history is not None:
                entry["messages"] = history
        return _File.model_validate(cleaned)
    except ValueError as exc:  # pydantic's ValidationError, or clean_text's sentence
        raise AgentFileError(f"The agent file is not valid: {_first_error(exc)}") from None


def _history(index: int, raw: list[Any]) -> Iterator[Message]:
    """Agent `index`'s messages, each checked as it is read: one refused fails the import
    while it writes, which deletes all it wrote."""
    for i, item in enumerate(raw):
        try:
            m = _Message.model_validate(clean_text(item, depth=4))  # file, agents, agent, list
        except ValueError as exc:
            where = f"agents.{index}.messages.{i}."
            raise AgentFileError(
                f"The agent file is not valid: {_first_error(exc, where)}"
            ) from None
        yield Message(
            role=m.role,
            event=m.event,
            text="".join(part.text for part in m.content),
            tool_calls=m.tool_calls,
            tool_call_id=m.tool_call_id,
            name=m.name,
            created_at=m.created_at,
            in_context=m.in_context,
        )


def _first_error(exc: ValueError, within: str = "") -> str:
    if not isinstance(exc, ValidationError):
        return str(exc)
    error = exc.errors()[0]
    where = within + ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}."


def _check_unique(kind: str, ids: list[str]) -> None:
    seen = set()
    for i in ids:
        if i in seen:
            raise AgentFileError(f"The agent file has two {kind}s with id {i!r}; ids must differ.")
        seen.add(i)


def _plan(
    service: AgentService,
    p: Principal,
    file: _File,
    index: int,
    new_tools: dict[str, UserTool],
    *,
    name: str | None,
    model: str | None,
) -> PlannedAgent:
    entry = file.agents[index]
    blocks = {b.id: b for b in file.blocks}
    tools = {t.id: t for t in file.tools}
    for kind, ids, known in (("block", entry.block_ids, blocks), ("tool", entry.tool_ids, tools)):
        if missing := [i for i in ids if i not in known]:
            raise AgentFileError(
                f"Agent {entry.name!r} names {kind} {missing[0]!r}, which the file does not have."
            )
    labels = [blocks[i].label for i in entry.block_ids]
    if len(set(labels)) < len(labels):
        raise AgentFileError(
            f"Agent {entry.name!r} has two blocks with one label; labels must differ."
        )
    tool_names = _tools(service, p, [tools[i] for i in entry.tool_ids], new_tools)
    saved = entry.memgpt
    llm = None if model else saved.llm
    request = CreateAgent(
        name=name or entry.name,
        system=entry.system,
        tags=entry.tags,
        memory_blocks=[
            CreateBlock(**blocks[i].model_dump(exclude={"id"})) for i in entry.block_ids
        ],
        model=model or (_handle(service, llm) if llm else None),
        embedding=_embedding_handle(service, saved.embedding) if saved.embedding else None,
        context_window_limit=llm.context_window if llm else None,
        max_tokens=llm.max_output_tokens if llm else None,
    )
    tool_rules = _rules(entry, tool_names or service.defaults)

    def finish(state: AgentState) -> None:
        state.tool_names = tool_names
        state.tool_rules = tool_rules
        state.summary = saved.summary
        if llm:  # the file's model settings, kept unless the import chose a model
            update = {"temperature": llm.temperature, "timeout_s": llm.timeout_s}
            state.llm = state.llm.model_copy(update=update)

    return PlannedAgent(request, finish, _history(index, entry.messages))


def _rules(entry: _Agent, tool_names: list[str]) -> list[ToolRule]:
    """The agent's tool rules. Letta writes each rule's prompt text, which memgpt does not
    use (the model is offered the allowed functions instead); other unknown fields refuse."""
    raw = [{k: v for k, v in r.items() if k != "prompt_template"} for r in entry.tool_rules]
    try:
        found = _RULES.validate_python(raw)
    except ValidationError as exc:
        raise AgentFileError(
            f"Agent {entry.name!r} has a tool rule memgpt cannot use: {_first_error(exc)}"
        ) from None
    try:
        rules.check(found, tool_names)
    except rules.ToolRuleError as exc:
        raise AgentFileError(str(exc)) from None
    return found


def _handle(service: AgentService, llm: _Model) -> str:
    """The handle of the file's model, on this server's provider of that name (an unknown
    one is refused with the list of those it has). A URL or key variable in the file must
    be the provider's own: an import never sends this server's keys where a file says."""
    # Files from before providers had names name the backend (Ollama by its address).
    legacy = "ollama" if (llm.provider, llm.base_url) == ("openai", OLLAMA_BASE_URL) else None
    name = llm.provider_name or legacy or llm.provider
    resolved = service.models.resolve(service.models.providers.config(f"{name}/{llm.model}"))
    if resolved.provider != llm.provider:
        raise AgentFileError(
            f"The agent file's model is a {llm.provider} model, but provider {name!r} of this "
            f"server serves {resolved.provider} ones; import it with a model handle instead."
        )
    if any(
        getattr(llm, f) not in (None, getattr(resolved, f)) for f in ("base_url", "api_key_env")
    ):
        raise AgentFileError(
            f"The agent file sets its model's base_url or api_key_env to values provider "
            f"{resolved.provider_name!r} of this server does not use; import it with a model "
            f"handle instead (e.g. {resolved.handle!r})."
        )
    return resolved.handle


def _embedding_handle(service: AgentService, embedding: _Embedding) -> str:
    default = service.models.default_embedding
    own = (embedding.provider, embedding.model) == (default.provider, default.model)
    if any(
        getattr(embedding, f) not in (None, getattr(default, f) if own else None)
        for f in ("base_url", "api_key_env")
    ):
        raise AgentFileError(
            "The agent file sets its embedding model's base_url or api_key_env, which an "
            "import may not choose; remove them, or import it with a model handle."
        )
    return f"{embedding.provider}/{embedding.model}"


def _tools(
    service: AgentService, p: Principal, tools: list[_Tool], new: dict[str, UserTool]
) -> list[str]:
    """The agent's tool names; custom tools the organization lacks go into `new`. A tool
    the organization has under the same name must be the same code: an import never
    changes what other agents run."""
    names: list[str] = []
    for tool in tools:
        if tool.tool_type != "custom":
            if tool.name not in service.builtin:
                raise AgentFileError(
                    f"The agent file's tool {tool.name!r} is not a memgpt base function; "
                    'give it as a "custom" tool with its source code.'
                )
            names.append(tool.name)
            continue
        if tool.source_code is None:
            raise AgentFileError(
                f"The agent file's custom tool {tool.name!r} has no source code; export the "
                "agent again from memgpt."
            )
        tool_name = function_name(tool.source_code)
        have = service.accounts.get_tool(p.organization_id, tool_name) or new.get(tool_name)
        if have is None:
            request = CreateTool(
                source_code=tool.source_code, description=tool.description, tags=tool.tags
            )
            new[tool_name] = prepare_tool(service, p, request)
        elif have.source_code != tool.source_code:
            raise ConflictError(
                f"The agent file's tool {tool_name!r} differs from this organization's tool "
                "of that name (or from another in the file); rename one, then import again."
            )
        names.append(tool_name)
    return list(dict.fromkeys(names))
