"""The store's logic, written once for both dialects: agents and recall storage (the
message log).

Working context blocks, archival storage, document sources and runs are mixed in from
`blocks.py`, `archival.py`, `sources.py` and `runs.py`; what differs between SQLite and
PostgreSQL is behind `seam.py`.
"""

from __future__ import annotations

from datetime import datetime

from memgpt.schemas import (
    AgentState,
    Message,
    inner_thoughts,
    sent_texts,
)
from memgpt.store.base import SEARCH_BUDGET, SEARCH_COUNT_LIMIT, StoreError
from memgpt.store.sql.archival import ArchivalSQL
from memgpt.store.sql.blocks import BlocksSQL
from memgpt.store.sql.imports import ImportsSQL
from memgpt.store.sql.runs import RunsSQL
from memgpt.store.sql.seam import Row
from memgpt.store.sql.sources import SourcesSQL

MESSAGE_COLUMNS = (
    "id, agent_id, seq, role, event, text, tool_calls, tool_call_id, name, created_at, in_context,"
    " memory_statistics"
)
_NEWEST = 2**62  # past any seq: "before nothing" in keyed paging


def searchable_text(message: Message) -> str | None:
    """What recall search sees: the user's words, the agent's thoughts and sent messages."""
    if message.role == "user" and message.event == "user_message":
        return message.text
    if message.role == "assistant":
        return "\n".join(p for p in [inner_thoughts(message), *sent_texts(message)] if p)
    return None


def _timed(state: AgentState) -> int:
    """Whether the scheduler wakes the agent (the `timed` column, see timed_agents)."""
    return int(bool(state.heartbeat_interval_s or state.sleeptime_agent_id))


class SQLStore(BlocksSQL, ArchivalSQL, SourcesSQL, ImportsSQL, RunsSQL):
    search_budget = SEARCH_BUDGET  # tests lower these two
    search_count_limit = SEARCH_COUNT_LIMIT

    # agents

    def create_agent(self, state: AgentState) -> None:
        with self.transaction():
            self._insert_named(
                "agents",
                state.name,
                "An agent",
                "INSERT INTO agents (id, name, state, created_at, timed) VALUES (?, ?, ?, ?, ?)",
                (
                    state.id,
                    state.name,
                    self._state(state),
                    self._ts(state.created_at),
                    _timed(state),
                ),
            )
            self._write_agent_blocks(state.id, state.blocks)

    def get_agent(self, id_or_name: str) -> AgentState | None:
        row = self._one(
            "SELECT id, state FROM agents WHERE id = ? OR name = ?", (id_or_name, id_or_name)
        )
        return self._load_agent(row) if row else None

    def list_agents(self) -> list[AgentState]:
        rows = self._query(
            "SELECT id, state FROM agents WHERE id NOT IN (SELECT agent_id FROM agent_imports)"
            " ORDER BY created_at, name"
        )
        return [self._load_agent(row) for row in rows]

    def timed_agents(self) -> list[AgentState]:
        """The agents the scheduler may wake: those with a heartbeat interval or a
        sleep-time agent (an index finds them; the others are never read)."""
        rows = self._query(
            "SELECT id, state FROM agents WHERE timed = 1"
            " AND id NOT IN (SELECT agent_id FROM agent_imports) ORDER BY created_at, name"
        )
        return [self._load_agent(row) for row in rows]

    def save_agent(self, state: AgentState) -> None:
        """Save the agent's state but not its blocks, which change only through their own
        calls (edits, attach, detach): a stale copy of a shared block never overwrites it."""
        with self.transaction():
            updated = self._run(
                "UPDATE agents SET name = ?, state = ?, timed = ? WHERE id = ?",
                (state.name, self._state(state), _timed(state), state.id),
            )
            if not updated:
                raise StoreError(f"Agent {state.id} no longer exists.")

    def delete_agent(self, agent_id: str) -> None:
        with self.transaction():
            self._forget_messages(agent_id, None)
            self._drop_agent_blocks(agent_id)
            self._run("DELETE FROM agents WHERE id = ?", (agent_id,))
        self._dropped(("agent_id", agent_id))

    def _state(self, state: AgentState):
        return self._json(state.model_dump(mode="json", exclude={"blocks"}))

    def _load_agent(self, row: Row) -> AgentState:
        blocks = self.agent_blocks(row["id"])
        return AgentState.model_validate({**self._from_json(row["state"]), "blocks": blocks})

    # recall storage

    def append_messages(self, agent_id: str, messages: list[Message]) -> None:
        with self.transaction():
            # Appends to one agent from several processes take seq numbers in turn.
            self._serialize(f"messages:{agent_id}")
            seq = self.last_seq(agent_id)
            rows = []
            for message in messages:
                seq += 1
                message.agent_id, message.seq = agent_id, seq
                rows.append(
                    (
                        message.id,
                        agent_id,
                        seq,
                        message.role,
                        message.event,
                        message.text,
                        self._json([c.model_dump() for c in message.tool_calls]),
                        message.tool_call_id,
                        message.name,
                        self._ts(message.created_at),
                        message.in_context,
                        message.memory_statistics,
                        searchable_text(message),
                    )
                )
            self._add_messages(rows)

    def _message(self, row: Row) -> Message:
        return self._record(Message, row, json=("tool_calls",))

    def _messages_by_seq(self, agent_id: str, seqs: list[int]) -> list[Message]:
        """The agent's messages with these seqs, in that order (less any deleted meanwhile)."""
        where, params = self._any("seq", seqs)
        rows = self._query(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE agent_id = ? AND {where}",
            (agent_id, *params),
        )
        by_seq = {r["seq"]: r for r in rows}
        return [self._message(by_seq[s]) for s in seqs if s in by_seq]

    def context_messages(self, agent_id: str) -> list[Message]:
        # `= TRUE`, not a bound value: PostgreSQL's partial index is on `WHERE in_context`.
        rows = self._query(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE agent_id = ? AND in_context = TRUE"
            " ORDER BY seq",
            (agent_id,),
        )
        return [self._message(r) for r in rows]

    def evict_messages(self, agent_id: str, message_ids: list[str]) -> None:
        ids, params = self._any("id", message_ids)
        self._run(
            f"UPDATE messages SET in_context = FALSE WHERE agent_id = ? AND {ids}",
            (agent_id, *params),
        )

    def delete_messages(self, agent_id: str, message_ids: list[str]) -> None:
        with self.transaction():
            self._forget_messages(agent_id, message_ids)
            ids, params = self._any("id", message_ids)
            self._run(f"DELETE FROM messages WHERE agent_id = ? AND {ids}", (agent_id, *params))

    def count_messages(self, agent_id: str) -> int:
        row = self._one("SELECT messages FROM agent_counts WHERE agent_id = ?", (agent_id,))
        return row["messages"] if row else 0

    def last_seq(self, agent_id: str) -> int:
        """The newest message's sequence number (0 for none): cheap, to notice new writes."""
        row = self._one(
            "SELECT COALESCE(MAX(seq), 0) AS seq FROM messages WHERE agent_id = ?", (agent_id,)
        )
        return row["seq"]

    def list_messages(
        self, agent_id: str, limit: int = 100, before_seq: int | None = None
    ) -> list[Message]:
        """The newest `limit` messages before `before_seq`, oldest first."""
        return self.messages_page(agent_id, before_seq=before_seq, limit=limit, newest_first=True)[
            ::-1
        ]

    def message_seq(self, agent_id: str, message_id: str) -> int | None:
        """The message's sequence number in the agent's history (None: no such message)."""
        row = self._one(
            "SELECT seq FROM messages WHERE agent_id = ? AND id = ?", (agent_id, message_id)
        )
        return row["seq"] if row else None

    def messages_page(
        self,
        agent_id: str,
        *,
        after_seq: int | None = None,
        before_seq: int | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[Message]:
        """Keyed paging through the (agent_id, seq) unique index: a page costs the same at
        any history length."""
        rows = self._query(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE agent_id = ? AND seq > ? AND seq < ?"
            f" ORDER BY seq {'DESC' if newest_first else 'ASC'} LIMIT ?",
            (
                agent_id,
                after_seq if after_seq is not None else -1,
                before_seq if before_seq is not None else _NEWEST,
                limit,
            ),
        )
        return [self._message(r) for r in rows]

    def messages_between(
        self, agent_id: str, start: datetime, end: datetime, limit: int, offset: int = 0
    ) -> tuple[list[Message], int]:
        where = (
            "agent_id = ? AND created_at >= ? AND created_at <= ?"
            " AND (role = 'assistant' OR event = 'user_message')"
        )
        params = (agent_id, self._ts(start), self._ts(end))
        total = self._one(f"SELECT COUNT(*) AS n FROM messages WHERE {where}", params)["n"]
        rows = self._query(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE {where} ORDER BY seq LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [self._message(r) for r in rows], total
