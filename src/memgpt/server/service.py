"""The server's use of the Python API, scoped to the caller's organization.

Every method takes the caller (`Principal`) and resolves agents through the ownership
table first: another organization's agent is "not found", never "forbidden". Methods
are blocking (SQLite, LLM calls); the routes run them in worker threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from memgpt import config
from memgpt.agent.agent import Agent, agent_lock
from memgpt.agent.multi_agent import AgentMessenger, MessagingLimits
from memgpt.client import MemGPT
from memgpt.embeddings import create_embedder
from memgpt.errors import MemGPTError
from memgpt.llm import create_llm
from memgpt.llm.catalog import Catalog
from memgpt.memory import archival, working
from memgpt.memory.archival import query_vector
from memgpt.schemas import (
    AgentState,
    Block,
    LLMConfig,
    new_id,
)
from memgpt.server import wire
from memgpt.server.auth import Principal
from memgpt.server.bounds import check_output_budget
from memgpt.server.conversation import Conversation
from memgpt.server.errors import ConflictError, NotFoundError
from memgpt.server.models import ModelChoice, ModelChoiceError
from memgpt.server.requests import CreateAgent, UpdateAgent, UpdateBlock, UpdateMessage
from memgpt.server.scheduler import Background
from memgpt.server.settings import ServerSettings
from memgpt.store import Store
from memgpt.store.accounts import AccountStore, AgentOwner
from memgpt.store.mcp_servers import McpServer, McpServerStore
from memgpt.tools import rules
from memgpt.tools.builtin import builtin, default_names
from memgpt.tools.mcp import McpSettings, mcp_function
from memgpt.tools.sandbox import Isolation, user_function
from memgpt.tools.schema import Function

AGENT_CACHE_SIZE = 256  # open agents kept with their compiled queue; reopening rereads it


class AgentService(Conversation):
    def __init__(self, client: MemGPT, accounts: AccountStore, settings: ServerSettings):
        self.client, self.store, self.accounts = client, client.store, accounts
        # The providers are configured once, here: the config file and environment, with
        # `memgpt server --model` choosing the default model as MEMGPT_MODEL would.
        user = config.load_settings(settings.model)
        self.models = ModelChoice(user.registry(), user.model, user.embedding_config())
        if settings.embedding:
            self.models.default_embedding = self.models.embedding(settings.embedding, None)
        self.catalog = Catalog(self.models.providers)
        self.tool_isolation = settings.tool_isolation
        self.network_tools = set(user.network_tools)
        # The functions every agent may have: the base and multi-agent ones, and the web
        # ones when on; an agent that names none has the defaults.
        self.builtin: dict[str, Function] = builtin(user)
        self.defaults = default_names(self.builtin)
        self.mcp = McpSettings.from_settings(user)
        self.mcp_servers = McpServerStore(self.store)
        self._open: OrderedDict[str, Agent] = OrderedDict()
        self._open_guard = threading.Lock()
        self.messaging = MessagingLimits(settings.agent_message_depth, settings.agent_fan_out)
        # Messages one agent sends another without waiting are processed here.
        self._deliveries = ThreadPoolExecutor(4, thread_name_prefix="agent-messages")
        # Sleep-time runs and timed heartbeats, each agent's one at a time.
        self.background = Background(self, settings.sleeptime_frequency)

    # ownership

    def owner(self, p: Principal, agent_id: str) -> AgentOwner:
        owner = self.accounts.agent_owner(agent_id)
        if owner is None or owner.organization_id != p.organization_id:
            raise NotFoundError(f"There is no agent {agent_id!r}.")
        return owner

    def state(self, p: Principal, agent_id: str) -> tuple[AgentState, AgentOwner]:
        owner = self.owner(p, agent_id)
        state = self.store.get_agent(agent_id)
        if state is None:
            raise NotFoundError(f"There is no agent {agent_id!r}.")
        return state, owner

    def resolve(self, p: Principal, id_or_name: str) -> str:
        """An agent id from an id or the agent's name in the caller's organization."""
        if (
            owner := self.accounts.agent_owner(id_or_name)
        ) and owner.organization_id == p.organization_id:
            return id_or_name
        named = [
            o.agent_id
            for o in self.accounts.owned_agents(p.organization_id)
            if o.name == id_or_name
        ]
        if len(named) > 1:
            raise ConflictError(
                f"{len(named)} agents are named {id_or_name!r}; use the agent's id."
            )
        if not named:
            raise NotFoundError(f"There is no agent {id_or_name!r}.")
        return named[0]

    # functions and open agents

    def functions(self, organization_id: str, state: AgentState) -> dict[str, Function]:
        functions: dict[str, Function] = dict(self.builtin)
        for name in state.tool_names:
            if name not in functions and (tool := self.accounts.get_tool(organization_id, name)):
                functions[name] = user_function(
                    tool.name,
                    tool.source_code,
                    tool.json_schema,
                    self.isolation(organization_id, tool.name),
                )
            elif name not in functions and (found := self.mcp_tool(organization_id, name)):
                functions[name] = mcp_function(*found, self.mcp)
        return functions

    def default_approvals(
        self, organization_id: str, names: list[str], tool_rules: list[rules.ToolRule]
    ) -> list[rules.ToolRule]:
        """`tool_rules` with a requires_approval rule for each of the tools `names` whose
        calls wait for approval by default (Letta adds them when a tool is attached)."""
        have = {r.tool_name for r in tool_rules if r.type == "requires_approval"}
        return [
            *tool_rules,
            *(
                rules.RequiresApprovalRule(tool_name=name)
                for name in names
                if name not in have
                and (tool := self.accounts.get_tool(organization_id, name))
                and tool.default_requires_approval
            ),
        ]

    def mcp_tool(
        self, organization_id: str, id_or_name: str
    ) -> tuple[McpServer, dict[str, Any]] | None:
        """The organization's MCP tool of this name or id, as last listed, and its server."""
        for server in self.mcp_servers.list(organization_id):
            for tool in server.tools:
                if id_or_name in (tool["name"], wire.derived_id("tool", server.id, tool["name"])):
                    return server, tool
        return None

    def isolation(self, organization_id: str, tool_name: str) -> Isolation:
        """A user tool's sandbox: with the network only when the operator marked the tool."""
        if f"{organization_id}/{tool_name}" in self.network_tools:
            return replace(self.tool_isolation, network=True)
        return self.tool_isolation

    def open(self, p: Principal, agent_id: str) -> Agent:
        """The agent, ready to process events; kept open between requests."""
        state, owner = self.state(p, agent_id)
        with self._open_guard:
            agent = self._open.get(agent_id)
            if agent is not None:
                self._open.move_to_end(agent_id)
                return agent
        agent = Agent(
            state,
            self.store,
            create_llm(self.models.resolve(state.llm)),
            create_embedder(state.embedding),
            functions=self.functions(owner.organization_id, state),
            messenger=self.messenger(owner),
        )
        with self._open_guard:
            self._open[agent_id] = agent
            while len(self._open) > AGENT_CACHE_SIZE:
                self._open.popitem(last=False)
        return agent

    def messenger(self, owner: AgentOwner) -> AgentMessenger:
        """How the owner's agent reaches the other agents of its organization."""
        p = Principal(user_id=owner.user_id, organization_id=owner.organization_id)

        def open_agent(agent_id: str) -> Agent | None:
            try:
                return self.open(p, agent_id)
            except NotFoundError:
                return None

        def tagged() -> Iterator[tuple[str, list[str]]]:
            for other in self.accounts.owned_agents(p.organization_id):
                if state := self.store.get_agent(other.agent_id):
                    yield state.id, state.tags

        return AgentMessenger(open_agent, tagged, self._deliveries, self.messaging)

    def forget(self, agent_id: str) -> None:
        """Drop the open agent: its model or functions changed."""
        with self._open_guard:
            self._open.pop(agent_id, None)

    def render(self, p: Principal, state: AgentState, owner: AgentOwner) -> dict[str, Any]:
        # Tools and sources render through their own modules, which build on this one.
        from memgpt.server.sources import agent_sources
        from memgpt.server.toolbox import agent_tools

        shown = state.model_copy(update={"llm": self.models.resolve(state.llm)})
        return wire.agent(shown, owner, agent_tools(self, p, state), agent_sources(self, state.id))

    # agents

    def create_agent(self, p: Principal, req: CreateAgent) -> dict[str, Any]:
        agent_id = self.new_agent(p, req).agent_id
        return self.render(p, *self.state(p, agent_id))

    def new_agent(self, p: Principal, req: CreateAgent, *, owned: bool = True) -> AgentOwner:
        """Write the agent a request asks for; return its ownership, also written unless
        `owned` is False (an import owns its agents only once they are whole)."""
        name = req.name or new_id("agent")[6:14]
        extra = [
            Block(
                label=b.label, value=b.value, limit=b.limit or 5000, description=b.description or ""
            )
            for b in {b.label: b for b in req.memory_blocks or []}.values()
        ]
        # Existing blocks, shared with the agents they are attached to already.
        extra += [self.owned_block(p, block_id) for block_id in dict.fromkeys(req.block_ids or [])]
        labels = [b.label for b in extra]
        if clash := sorted({label for label in labels if labels.count(label) > 1}):
            raise MemGPTError(
                f"Two blocks are labelled {clash[0]!r} (in memory_blocks and block_ids); an "
                "agent's block labels must differ, so drop or relabel one."
            )
        kwargs: dict[str, Any] = {"system": req.system} if req.system else {}
        model = self.models.llm(req.model, req.llm_config, req.context_window_limit, req.max_tokens)
        assert model is not None  # without a current model, one is always chosen
        model = _fitting(model)
        embedding = self.models.embedding(req.embedding, req.embedding_config)
        tools = [*(req.tool_ids or []), *(req.tools or [])]
        # Everything a request names is resolved before the first write: a refusal leaves
        # no agent behind.
        tool_names = resolve_tools(self, p, [*self.defaults, *tools]) if tools else []
        tool_rules = self.default_approvals(p.organization_id, tool_names, req.tool_rules or [])
        rules.check(tool_rules, tool_names or self.defaults)
        with self.store.transaction():
            # The store's agent names are unique across organizations; names users see are
            # per organization and live in the ownership table.
            agent = self.client.create_agent(
                f"{name}~{new_id('x')[2:10]}",
                model=model,
                embedding=embedding or self.models.default_embedding,
                blocks=extra,
                **kwargs,
            )
            for block in agent.state.blocks:
                self.accounts.set_block_owner(block.id, p.organization_id)
            agent.state.tags = req.tags or []
            agent.state.tool_names = tool_names
            agent.state.tool_rules = tool_rules
            agent.state.heartbeat_interval_s = req.heartbeat_interval_s
            self.store.save_agent(agent.state)
            owner = AgentOwner(
                agent_id=agent.id, organization_id=p.organization_id, user_id=p.user_id, name=name
            )
            if owned:
                self.accounts.set_agent_owner(owner)
                if req.enable_sleeptime:
                    companion = self.client.add_sleeptime_agent(agent.id)
                    self.accounts.set_agent_owner(
                        owner.model_copy(
                            update={"agent_id": companion.id, "name": f"{name}-sleeptime"}
                        )
                    )
        return owner

    def list_agents(
        self,
        p: Principal,
        *,
        tags: list[str],
        match_all_tags: bool,
        name: str | None,
        after: str | None,
        limit: int | None,
    ) -> list[dict[str, Any]]:
        owned = self.accounts.owned_agents(p.organization_id)
        if after is not None:
            ids = [o.agent_id for o in owned]
            owned = owned[ids.index(after) + 1 :] if after in ids else []
        out: list[dict[str, Any]] = []
        for owner in owned:
            if limit is not None and len(out) >= limit:
                break
            if name is not None and owner.name != name:
                continue
            state = self.store.get_agent(owner.agent_id)
            if state is None:
                continue
            if tags and not (all if match_all_tags else any)(t in state.tags for t in tags):
                continue
            out.append(self.render(p, state, owner))
        return out

    def update_agent(self, p: Principal, agent_id: str, req: UpdateAgent) -> dict[str, Any]:
        with agent_lock(agent_id):
            state, owner = self.state(p, agent_id)
            if req.tool_ids is not None:
                state.tool_names = resolve_tools(self, p, req.tool_ids)
            if req.tool_rules is not None:
                state.tool_rules = req.tool_rules
            rules.check(state.tool_rules, state.tool_names or self.defaults)
            if req.system is not None:
                state.system = req.system
            if req.tags is not None:
                state.tags = req.tags
            if req.heartbeat_interval_s is not None:
                state.heartbeat_interval_s = req.heartbeat_interval_s or None
            llm = self.models.llm(
                req.model, req.llm_config, req.context_window_limit, req.max_tokens, state.llm
            )
            if llm is not None:
                state.llm = _fitting(llm)
                create_llm(self.models.resolve(llm))  # one that cannot be built is refused
            embedding = self.models.embedding(req.embedding, req.embedding_config)
            if embedding is not None and embedding != state.embedding:
                raise ModelChoiceError(
                    "An agent keeps the embedding model its archival passages were embedded "
                    "with; to use another, create a new agent with it and insert the passages "
                    "there."
                )
            with self.store.transaction():
                self.store.save_agent(state)
                if req.name is not None:
                    self.accounts.set_agent_owner(owner.model_copy(update={"name": req.name}))
            self.forget(agent_id)
        return self.render(p, *self.state(p, agent_id))

    def delete_agent(self, p: Principal, agent_id: str) -> None:
        state, _ = self.state(p, agent_id)
        with agent_lock(agent_id):
            self.client.delete_agent(agent_id)  # and its sleep-time agent
            self.forget(agent_id)
            if state.sleeptime_agent_id:
                self.forget(state.sleeptime_agent_id)

    # core memory

    def blocks(self, p: Principal, agent_id: str) -> list[dict[str, Any]]:
        state, _ = self.state(p, agent_id)
        return [wire.block(b) for b in state.blocks]

    def owned_block(self, p: Principal, block_id: str) -> Block:
        """The caller's organization's block; another organization's is "not found"."""
        block = self.store.get_block(block_id)
        if block is None or self.accounts.block_owner(block_id) != p.organization_id:
            raise NotFoundError(f"There is no block {block_id!r}.")
        return block

    def _block(self, p: Principal, agent_id: str, label: str) -> Block:
        state, _ = self.state(p, agent_id)
        try:
            return state.block(label)
        except KeyError:
            raise NotFoundError(f"Agent {agent_id!r} has no block {label!r}.") from None

    def block(self, p: Principal, agent_id: str, label: str) -> dict[str, Any]:
        return wire.block(self._block(p, agent_id, label))

    def update_block(
        self, p: Principal, agent_id: str, label: str, req: UpdateBlock
    ) -> dict[str, Any]:
        """Edit one of the agent's blocks; every agent sharing it sees the edit at its next
        step, and the block's history names this agent as the one whose memory changed."""
        block = self._block(p, agent_id, label)
        edit_block(self.store, block, req, agent_id)
        return self.block(p, agent_id, label)

    # the conversation, as the CLI's /pop and /rewrite change it

    def reset_messages(self, p: Principal, agent_id: str) -> dict[str, Any]:
        self.open(p, agent_id).reset()
        return self.render(p, *self.state(p, agent_id))

    def edit_message(
        self, p: Principal, agent_id: str, message_id: str, req: UpdateMessage
    ) -> dict[str, Any]:
        """The edited part of the message, as Letta returns it (the message's id is new)."""
        if req.message_type == "system_message":
            raise MemGPTError(
                "memgpt keeps the system prompt out of the conversation; change it with "
                f"PATCH /v1/agents/{agent_id} and a new `system`."
            )
        edited = self.open(p, agent_id).edit(message_id, req.part(), req.text())
        part = {"user": "user_message", "reasoning": "reasoning_message"}.get(req.part())
        shown = part or ("user_message" if edited.role == "user" else "assistant_message")
        return next(
            m for m in wire.messages([edited], include_events=True) if m["message_type"] == shown
        )

    def take_out_message(
        self, p: Principal, agent_id: str, message_id: str
    ) -> list[dict[str, Any]]:
        """The step holding the message leaves main context (recall keeps it); its parts."""
        removed = self.open(p, agent_id).take_out(message_id)
        return wire.messages(removed, include_events=True)

    # archival memory

    def insert_passage(self, p: Principal, agent_id: str, text: str) -> list[dict[str, Any]]:
        state, _ = self.state(p, agent_id)
        passage = archival.insert(self.store, self.open(p, agent_id).embedder, agent_id, text)
        return [wire.passage(passage, state.embedding)]

    def list_passages(
        self, p: Principal, agent_id: str, *, after: str | None, limit: int, descending: bool
    ) -> list[dict[str, Any]]:
        state, _ = self.state(p, agent_id)
        passages = self.store.passages_page(
            agent_id, after_id=after, limit=limit, newest_first=descending
        )
        return [wire.passage(x, state.embedding) for x in passages]

    def search_passages(
        self, p: Principal, agent_id: str, query: str, top_k: int
    ) -> dict[str, Any]:
        self.owner(p, agent_id)
        vector = query_vector(self.open(p, agent_id).embedder, query)
        hits = self.store.search_passages(agent_id, vector, top_k)
        results = [
            {
                "id": x.id,
                "content": x.text,
                "timestamp": x.created_at.isoformat(),
                "tags": x.metadata.get("tags", []),
            }
            for x, _score in hits
        ]
        return {"results": results, "count": len(results)}

    def delete_passage(self, p: Principal, agent_id: str, passage_id: str) -> None:
        self.owner(p, agent_id)
        if not self.store.delete_passage(agent_id, passage_id):
            raise NotFoundError(f"Agent {agent_id!r} has no passage {passage_id!r}.")


def edit_block(store: Store, block: Block, req: UpdateBlock, agent_id: str | None) -> None:
    """Update a block: its settings, then its value as a user edit in the block's history
    (`agent_id`: the agent whose memory the user edited, None for the block itself)."""
    settings = {
        k: v for k in ("label", "limit", "description") if (v := getattr(req, k, None)) is not None
    }
    with store.transaction():
        if settings:
            changed = block.model_copy(update=settings)
            if req.value is None:
                working.check_limit(changed, block.value)
            store.update_block(changed)
        if req.value is not None:
            working.set_shared(store, block.id, req.value, agent_id)


def _fitting(llm: LLMConfig) -> LLMConfig:
    """`llm`, if its output budget leaves the prompt room in its window."""
    if problem := check_output_budget(llm.context_window, llm.max_output_tokens):
        raise MemGPTError(f"The model's {problem}.")
    return llm


def resolve_tools(service: AgentService, p: Principal, ids: list[str]) -> list[str]:
    """Tool names, each once, from ids or names; NotFoundError for one the caller lacks."""
    from memgpt.server.toolbox import tool_name  # toolbox builds on this module

    return list(dict.fromkeys(tool_name(service, p, i) for i in ids))
