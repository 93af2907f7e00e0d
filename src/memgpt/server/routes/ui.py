"""What the web UI shows that Letta's routes do not: the main context section by section,
each block's edit history and the agents sharing it, and recall and archival search with the details the agent's
own search functions see (dates, sources, scores).

`GET /context` keeps the names of Letta's context-window overview, so Letta's ADE and SDK
read it too; the other routes are memgpt's own.
"""

from __future__ import annotations

import difflib
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from memgpt.agent.agent import Agent
from memgpt.memory import relevance
from memgpt.memory.archival import query_vector
from memgpt.memory.recall import describe
from memgpt.schemas import BlockEdit, Message
from memgpt.server.deps import MAX_RESULTS, Caller, Service
from memgpt.server.service import AgentService
from memgpt.store.base import ArchivalFilter, ArchivalHit

router = APIRouter(prefix="/v1/agents/{agent_id}", tags=["ui"])

PAGE = 20
Page = Annotated[int, Query(ge=0, le=MAX_RESULTS // PAGE)]
_WORDS = re.compile(r"\s+|\w+|[^\w\s]")
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


def _view(service, p, agent_id: str) -> Agent:
    """The agent as last committed. The open agent may be mid-step in another thread, and
    its lock is held for a whole chain of steps: a fresh view answers after each step."""
    live = service.open(p, agent_id)
    state, _ = service.state(p, agent_id)
    return Agent(state, service.store, live.llm, live.embedder, functions=live.functions)


@router.get("/context")
def context(agent_id: str, p: Caller, service: Service) -> dict[str, Any]:
    view = _view(service, p, agent_id)
    main = view.compile()
    s = main.sections
    return {
        "context_window_size_max": main.window,
        "context_window_size_current": main.total,
        "num_messages": len(view.queue),
        "num_recall_memory": service.store.count_messages(agent_id),
        "num_archival_memory": service.store.count_passages(agent_id),
        "num_tokens_system": s["system_instructions"],
        "num_tokens_functions_definitions": s["functions"],
        "num_tokens_core_memory": s["working_context"],
        # memgpt's own: open files are a section of their own, outside core memory.
        "num_tokens_open_files": s["open_files"],
        "num_tokens_external_memory_summary": s["memory_statistics"],
        "num_tokens_summary_memory": s["summary"],
        "num_tokens_messages": s["queue"],
        "summary_memory": view.state.summary or None,
        # memgpt's own: the reply's reserved room, the warning line, and where the queue
        # starts, so older messages can be shown as summarized.
        "reserved_for_reply": main.window - main.budget,
        "memory_warning_tokens": int(view.state.memory_warning_fraction * main.budget),
        "first_in_context_message_id": view.queue[0].id if view.queue else None,
    }


def _diff(old: str, new: str) -> list[list[str]]:
    """Word-level changes as ["=" | "-" | "+", text] runs; blocks are prose, not lines."""
    a, b = _WORDS.findall(old), _WORDS.findall(new)
    runs: list[list[str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op in ("equal", "delete", "replace") and i2 > i1:
            runs.append(["=" if op == "equal" else "-", "".join(a[i1:i2])])
        if op in ("insert", "replace") and j2 > j1:
            runs.append(["+", "".join(b[j1:j2])])
    return runs


def _edit(edit: BlockEdit, names: dict[str, str]) -> dict[str, Any]:
    return {
        "actor": edit.actor,
        # the agent that made it, or whose memory the user edited (None: the block itself)
        "agent_id": edit.agent_id,
        "agent_name": names.get(edit.agent_id or ""),
        "created_at": edit.created_at.isoformat(),
        "chars": len(edit.new_value),
        "diff": _diff(edit.old_value, edit.new_value),
    }


def _names(service: AgentService, agent_ids: set[str | None]) -> dict[str, str]:
    """Agents' names as their organization knows them (a deleted agent has none)."""
    owners = (service.accounts.agent_owner(i) for i in agent_ids if i)
    return {o.agent_id: o.name for o in owners if o}


@router.get("/core-memory/blocks/{label}/history")
def block_history(agent_id: str, label: str, p: Caller, service: Service) -> list[dict[str, Any]]:
    """The block's edits, newest first, by whichever agent sharing it (or the user)."""
    block = service.block(p, agent_id, label)  # 404 for a missing block, not an empty history
    edits = service.store.block_history(block["id"])
    names = _names(service, {e.agent_id for e in edits})
    return [_edit(e, names) for e in reversed(edits)]


@router.get("/core-memory/shared")
def shared_blocks(agent_id: str, p: Caller, service: Service) -> dict[str, list[dict[str, str]]]:
    """The agent's blocks that other agents share: block id to those agents' ids and names."""
    state, _ = service.state(p, agent_id)
    shared = {
        b.id: [i for i in service.store.block_agents(b.id) if i != agent_id] for b in state.blocks
    }
    names = _names(service, {i for ids in shared.values() for i in ids})
    return {
        block_id: [{"id": i, "name": names[i]} for i in ids if i in names]
        for block_id, ids in shared.items()
        if ids
    }


def _day(value: date | None, default: datetime, *, end: bool) -> datetime:
    if value is None:
        return default
    start = datetime.combine(value, time.min, tzinfo=UTC)
    return start + timedelta(days=1, microseconds=-1) if end else start


def _recall_row(m: Message) -> dict[str, Any]:
    row = describe(m)
    return {
        "id": m.id,
        "date": m.created_at.isoformat(),
        "from": "user" if row["from"] == "user" else "agent",
        "text": row["text"],
        "in_context": m.in_context,
    }


@router.get("/recall")
def search_recall(
    agent_id: str,
    p: Caller,
    service: Service,
    query: str = "",
    start_date: date | None = None,
    end_date: date | None = None,
    page: Page = 0,
) -> dict[str, Any]:
    """Recall storage searched by words and meaning (as conversation_search does), by
    date range (days, inclusive), or by words within dates; with neither, every message
    the user and the agent exchanged, oldest first."""
    service.owner(p, agent_id)
    store = service.store
    start = _day(start_date, _EARLIEST, end=False)
    end = _day(end_date, datetime.now(UTC) + timedelta(days=1), end=True)
    more = False  # whether a text search stopped counting: "at least" this many
    if not query.strip():
        hits, total = store.messages_between(agent_id, start, end, PAGE, page * PAGE)
    elif start_date is None and end_date is None:
        embedder = service.open(p, agent_id).embedder
        floor = relevance.floor(store, embedder, agent_id, "recall")
        vector = query_vector(embedder, query)
        hits, total = store.search_recall(agent_id, query, vector, PAGE, page * PAGE, floor=floor)
    else:
        # The store searches text and dates separately; both at once filters the text hits.
        _, count = store.search_messages(agent_id, query, 0)
        every, _ = store.search_messages(agent_id, query, count)
        dated = [m for m in every if start <= m.created_at <= end]
        hits, total = dated[page * PAGE : (page + 1) * PAGE], len(dated)
        more = count > store.search_count_limit
    return {
        "total": total,
        "more": more,
        "page": page,
        "page_size": PAGE,
        "results": [_recall_row(m) for m in hits],
    }


def _hit(hit: ArchivalHit, source_names: dict[str, str]) -> dict[str, Any]:
    x = hit.passage
    return {
        "id": x.id,
        "text": x.text,
        "created_at": x.created_at.isoformat(),
        "source": source_names.get(x.source_id or "", x.source),
        "source_id": x.source_id,
        "file": x.file,
        "page": x.page,
        "tags": x.tags,
        "score": hit.score,
        "similarity": hit.similarity,
        "bm25": hit.bm25,
        "vector_rank": hit.vector_rank,
        "text_rank": hit.text_rank,
    }


@router.get("/archival-memory/hybrid-search")
def search_archival(
    agent_id: str,
    query: str,
    p: Caller,
    service: Service,
    source_id: str | None = None,
    page: Page = 0,
) -> dict[str, Any]:
    """Archival storage (the agent's passages and its attached sources') as
    archival_memory_search sees it: vector and keyword rankings fused, with each score.
    `source_id` keeps only one attached source's passages."""
    if not query.strip():
        raise HTTPException(400, "Give a query to search archival memory.")
    agent = service.open(p, agent_id)
    attached = {s.id: s for s in service.store.attached_sources(agent_id)}
    if source_id is not None and source_id not in attached:
        raise HTTPException(404, f"Source {source_id!r} is not attached to this agent.")
    # Passages name their source by its store name; people know it by its own name.
    names = {
        s.id: owner.name if (owner := service.accounts.source_owner(s.id)) else s.name
        for s in attached.values()
    }
    filters = ArchivalFilter(sources=[attached[source_id].name] if source_id else [])
    vector = query_vector(agent.embedder, query)
    hits, total = service.store.search_archival(agent_id, query, vector, PAGE, page * PAGE, filters)
    return {
        "total": total,
        "page": page,
        "page_size": PAGE,
        "results": [_hit(h, names) for h in hits],
    }
