"""The Python API: create an agent, talk to it, look at its memory, reopen it later.

from memgpt import MemGPT
client = MemGPT()
agent = client.create_agent("sam", model="openai/gpt-4o-mini")
print(agent.send("Hi, I'm Ana and I love hiking.").text)
print(client.get_agent("sam").memory["human"])
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from memgpt import config
from memgpt.agent import sleeptime
from memgpt.agent.agent import Agent, agent_lock
from memgpt.agent.multi_agent import AgentMessenger
from memgpt.agent.prompts import DEFAULT_HUMAN, DEFAULT_PERSONA, SYSTEM_INSTRUCTIONS
from memgpt.embeddings import create_embedder
from memgpt.embeddings.base import Embedder
from memgpt.errors import AgentNotFoundError, ContextTooSmallError, MemGPTError
from memgpt.ingest.pipeline import LoadSettings, LoadSummary, load_into_source
from memgpt.ingest.progress import LoadProgress
from memgpt.llm import create_llm
from memgpt.llm.base import LLMClient
from memgpt.memory import archival, recall_embedding
from memgpt.schemas import AgentState, Block, EmbeddingConfig, LLMConfig, new_id
from memgpt.store import Store
from memgpt.store.base import Source, StoreError
from memgpt.store.dialects.sqlite import SQLiteStore
from memgpt.tools import rules
from memgpt.tools.builtin import builtin, default_names
from memgpt.tools.files import attach_folder, detach_folder
from memgpt.tools.rules import ToolRule

PG_URI_ENV = "MEMGPT_PG_URI"
MIN_QUEUE_FRACTION = 0.25  # of the window, left free for conversation at creation


def open_store(path: str | Path | None = None) -> Store:
    """The SQLite file `path` when given; else PostgreSQL at $MEMGPT_PG_URI when that is
    set (a server shared by several processes); else $MEMGPT_HOME/memgpt.db."""
    uri = os.environ.get(PG_URI_ENV)
    if path is None and uri:
        try:
            from memgpt.store.dialects.postgres import PostgresStore
        except ImportError as exc:
            raise StoreError(
                f"{PG_URI_ENV} is set but PostgreSQL support is not installed ({exc}); run "
                "pip install 'psycopg[binary]' psycopg_pool pgvector, or unset it to use SQLite."
            ) from exc
        return PostgresStore(uri)
    return SQLiteStore(path or config.database_path())


class MemGPT:
    def __init__(self, path: str | Path | None = None, *, store: Store | None = None):
        """Open the store: `store`, else `path` to a SQLite file, else PostgreSQL at
        $MEMGPT_PG_URI when set, else $MEMGPT_HOME/memgpt.db."""
        self.store = store or open_store(path)
        # The agents this client opened, which its agents' messages to each other reach
        # (others of the store are opened on their first message).
        self._opened: dict[str, Agent] = {}
        self._deliveries: ThreadPoolExecutor | None = None  # one-way messages, on first use

    def create_agent(
        self,
        name: str | None = None,
        *,
        persona: str = DEFAULT_PERSONA,
        human: str = DEFAULT_HUMAN,
        model: str | LLMConfig = "local",
        embedding: EmbeddingConfig | None = None,
        blocks: list[Block] | None = None,
        system: str = SYSTEM_INSTRUCTIONS,
        llm: LLMClient | None = None,
        embedder: Embedder | None = None,
        tool_rules: list[ToolRule] | None = None,
        tools: list[str] | None = None,
    ) -> Agent:
        """Create and store a new agent. `llm`/`embedder` override the clients the configs
        would build (tests pass a scripted model); `tool_rules` constrain its function calls
        (ToolRuleError for a rule naming a function it lacks); `tools` names the functions
        it has (by default the base ones; the multi-agent ones, which message the store's
        other agents, only when named)."""
        functions = builtin(config.load_settings())
        if unknown := [t for t in tools or [] if t not in functions]:
            raise MemGPTError(
                f"There is no function {unknown[0]!r}; choose among: {', '.join(functions)}."
            )
        llm_config = model if isinstance(model, LLMConfig) else config.model_config(model)
        llm = llm or create_llm(llm_config)
        embedding = embedding or EmbeddingConfig(provider="local", model="all-MiniLM-L6-v2")
        state = AgentState(
            name=name or new_id("agent")[6:14],
            system=system,
            # `blocks` may bring a persona or human block of its own (one shared with
            # other agents): it takes the default's place.
            blocks=[
                *(
                    Block(label=label, value=value)
                    for label, value in (("persona", persona), ("human", human))
                    if label not in {b.label for b in blocks or []}
                ),
                *(blocks or []),
            ],
            llm=llm.config,
            embedding=embedding,
            tool_names=tools or [],
            tool_rules=tool_rules or [],
        )
        agent = Agent(
            state,
            self.store,
            llm,
            embedder or create_embedder(embedding),
            functions=functions,
            messenger=self._messenger(),
        )
        rules.check(state.tool_rules, agent.functions)
        fixed = agent.compile()
        if fixed.total > (1 - MIN_QUEUE_FRACTION) * fixed.budget:
            raise ContextTooSmallError(
                f"The system instructions, functions and memory blocks need {fixed.total} tokens, "
                f"too many for a {fixed.window}-token window; use a model with a larger context "
                "window or shorten the persona and blocks."
            )
        self.store.create_agent(state)
        self._opened[agent.id] = agent
        return agent

    def get_agent(
        self,
        name_or_id: str,
        *,
        model: str | LLMConfig | None = None,
        llm: LLMClient | None = None,
        embedder: Embedder | None = None,
    ) -> Agent:
        """Reopen a stored agent where it left off; `model` moves it to another model (saved)."""
        state = self.store.get_agent(name_or_id)
        if state is None:
            raise AgentNotFoundError(
                f"There is no agent named {name_or_id!r}; list them with `memgpt list agents`."
            )
        if model is not None and llm is None:
            llm = create_llm(model if isinstance(model, LLMConfig) else config.model_config(model))
        agent = Agent(
            state,
            self.store,
            llm or create_llm(state.llm),
            embedder or create_embedder(state.embedding),
            functions=builtin(config.load_settings()),
            messenger=self._messenger(),
        )
        if model is not None:
            agent.set_llm(agent.llm)
        self._opened[agent.id] = agent
        return agent

    def list_agents(self) -> list[AgentState]:
        return self.store.list_agents()

    def reindex_recall(
        self,
        agent: str | None = None,
        *,
        started: Callable[[int], None] = lambda total: None,
        progress: Callable[[int], None] = lambda messages: None,
    ) -> int:
        """Embed the messages (of every agent, or of `agent`) not yet searchable by
        meaning, as a database from before semantic recall has them, each agent's with
        its own embedder; returns how many messages were looked at. `started` hears the
        total first, `progress` each batch."""
        backlog = self.store.unembedded_counts()
        if agent is not None:
            state = self.store.get_agent(agent)
            if state is None:
                raise AgentNotFoundError(
                    f"There is no agent named {agent!r}; list them with `memgpt list agents`."
                )
            backlog = {state.id: backlog.get(state.id, 0)}
        started(sum(backlog.values()))
        done = 0
        for agent_id, count in backlog.items():
            state = self.store.get_agent(agent_id)
            if count and state is not None:
                embedder = create_embedder(state.embedding)
                done += recall_embedding.catch_up(self.store, embedder, agent_id, progress)
        return done

    def delete_agent(self, name_or_id: str) -> None:
        state = self.store.get_agent(name_or_id)
        if state is None:
            raise AgentNotFoundError(f"There is no agent named {name_or_id!r} to delete.")
        if state.sleeptime_agent_id:  # first: the blocks it shares then go with the agent
            self.store.delete_agent(state.sleeptime_agent_id)
        self.store.delete_agent(state.id)

    def create_sleeptime_agent(
        self, main: Agent, *, llm: LLMClient | None = None, embedder: Embedder | None = None
    ) -> Agent:
        """Give `main` a sleep-time memory agent: it shares main's blocks and, each time
        `sleeptime.reorganize` runs it, tidies them from main's recent conversation."""
        state = self.add_sleeptime_agent(main.id)
        return self.get_agent(state.id, llm=llm, embedder=embedder)

    def add_sleeptime_agent(self, main_id: str) -> AgentState:
        """Store a sleep-time agent for the agent `main_id` and return its state."""
        with agent_lock(main_id), self.store.agent_lock(main_id), self.store.transaction():
            main = self.store.get_agent(main_id)
            if main is None or main.sleeptime_agent_id:
                raise StoreError(f"Agent {main_id!r} is gone or has a sleep-time agent already.")
            state = sleeptime.companion_state(main)
            self.store.create_agent(state)
            main.sleeptime_agent_id = state.id
            self.store.save_agent(main)
        return state

    # document sources

    def create_source(
        self, name: str, *, description: str = "", embedding: EmbeddingConfig | None = None
    ) -> Source:
        """A named, empty collection of documents, embedded with `embedding` (MiniLM by default)."""
        source = Source(
            name=name,
            description=description,
            embedding=embedding or EmbeddingConfig(provider="local", model="all-MiniLM-L6-v2"),
        )
        self.store.create_source(source)
        return source

    def get_source(self, name_or_id: str) -> Source:
        return archival.find_source(self.store, name_or_id)

    def list_sources(self) -> list[Source]:
        return self.store.list_sources()

    def delete_source(self, name_or_id: str) -> None:
        """Delete a source with all its passages; agents it was attached to lose it."""
        self.store.delete_source(self.get_source(name_or_id).id)

    def load(
        self,
        source: str,
        path: str | Path,
        *,
        embedding: EmbeddingConfig | None = None,
        embedder: Embedder | None = None,
        settings: LoadSettings | None = None,
        progress: LoadProgress | None = None,
    ) -> LoadSummary:
        """Load a file or folder into `source` (created if new). Loading again adds only what
        is new, and resumes a load that was interrupted."""
        found = self.store.get_source(source) or self.create_source(source, embedding=embedding)
        embedder = embedder or create_embedder(found.embedding)
        return load_into_source(self.store, embedder, found, path, settings, progress)

    def attach_source(self, agent: str, source: str) -> Source:
        """Let the agent's archival_memory_search cover the source's passages, and give it
        the file functions (open_files, grep_files, semantic_search_files) over its files."""
        with self._editing(agent) as state:
            names = state.tool_names or default_names(builtin(config.load_settings()))
            return attach_folder(self.store, state, source, names)

    def detach_source(self, agent: str, source: str) -> Source:
        """Close the source's open files; with the last source go the file functions."""
        with self._editing(agent) as state:
            return detach_folder(self.store, state, source)

    @contextmanager
    def _editing(self, name_or_id: str) -> Iterator[AgentState]:
        """The agent's state, held against its steps (it saves its state with each) and
        saved with the caller's other writes in one transaction."""
        state = self._state(name_or_id)
        with agent_lock(state.id), self.store.agent_lock(state.id), self.store.transaction():
            state = self._state(state.id)
            yield state
            self.store.save_agent(state)

    def attached_sources(self, agent: str) -> list[Source]:
        return self.store.attached_sources(self._state(agent).id)

    def _state(self, name_or_id: str) -> AgentState:
        state = self.store.get_agent(name_or_id)
        if state is None:
            raise AgentNotFoundError(
                f"There is no agent named {name_or_id!r}; list them with `memgpt list agents`."
            )
        return state

    # agents messaging agents

    def _messenger(self) -> AgentMessenger:
        """How this client's agents reach the store's other agents."""
        if self._deliveries is None:
            self._deliveries = ThreadPoolExecutor(4, thread_name_prefix="agent-messages")
        return AgentMessenger(self._open_for_message, self._tagged, self._deliveries)

    def _open_for_message(self, agent_id: str) -> Agent | None:
        if agent := self._opened.get(agent_id):
            return agent
        try:
            return self.get_agent(agent_id)
        except AgentNotFoundError:
            return None

    def _tagged(self) -> list[tuple[str, list[str]]]:
        return [(state.id, state.tags) for state in self.store.list_agents()]

    def close(self) -> None:
        if self._deliveries is not None:
            self._deliveries.shutdown(wait=True)
        recall_embedding.WORKER.forget(self.store)
        self.store.close()
