"""Shared memory blocks on every backend: one block in several agents' working context,
an edit by any of them (or the user) seen by all at their next step, recorded in the
block's history with who made it, committed with its step, and never lost to a
concurrent edit from another process."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from memgpt.client import MemGPT
from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.scripted import ScriptedLLM, call
from memgpt.memory import working
from memgpt.schemas import Block, EmbeddingConfig
from memgpt.store.base import StoreError
from tests.store.processes import run_together

CHILD = Path(__file__).with_name("shared_block_child.py")
EVENTS = 8


def _agents(store, block: Block, *policies):
    client = MemGPT(store=store)
    return [
        client.create_agent(
            f"agent{i}",
            llm=ScriptedLLM(policy),
            embedding=EmbeddingConfig(provider="hash"),
            embedder=HashEmbedder(),
            blocks=[block],
        )
        for i, policy in enumerate(policies)
    ]


def _prompt(messages) -> str:
    return "\n".join(m.content or "" for m in messages)


def test_an_edit_by_one_agent_is_in_the_others_working_context_at_its_next_step(store):
    seen: list[str] = []

    def reader(messages, functions):
        seen.append(_prompt(messages))
        return call("send_message", message="ok")

    block = Block(label="team", value="Team: red")
    writer, other = _agents(
        store,
        block,
        [call("core_memory_append", label="team", content="Lead: Ana")],
        reader,
    )
    writer.send("Ana leads the team")
    other.send("who leads?")
    assert "Team: red\nLead: Ana" in seen[-1]
    assert store.get_agent(other.id).block("team").value == "Team: red\nLead: Ana"
    history = store.block_history(block.id)
    assert [(e.actor, e.agent_id, e.new_value) for e in history] == [
        ("agent", writer.id, "Team: red\nLead: Ana")
    ]
    assert store.block_agents(block.id) == sorted([writer.id, other.id])


def test_a_user_edit_reaches_every_agent_and_names_the_agent_whose_memory_it_was(store):
    block = Block(label="team", value="Team: red")
    a, b = _agents(store, block, [], [])
    a.edit_block("team", "Team: blue")
    working.set_shared(store, block.id, "Team: green")
    assert store.get_agent(b.id).block("team").value == "Team: green"
    assert [(e.actor, e.agent_id) for e in store.block_history(block.id)] == [
        ("user", a.id),
        ("user", None),
    ]


def test_an_edit_made_during_a_chain_is_seen_at_the_chains_next_step(store):
    """Blocks are reread each step, not only at each event: a long chain sees edits too."""
    block = Block(label="team", value="Team: red")
    prompts: list[str] = []

    def chained(messages, functions):
        prompts.append(_prompt(messages))
        if len(prompts) == 1:
            working.set_shared(store, block.id, "Team: blue")  # the user, meanwhile
            return call("conversation_search", query="team", request_heartbeat=True)
        return call("send_message", message="ok")

    (agent,) = _agents(store, block, chained)
    agent.send("go")
    assert "Team: red" in prompts[0] and "Team: blue" in prompts[1]


def test_an_edit_commits_with_its_step_or_not_at_all(store, monkeypatch):
    block = Block(label="team", value="Team: red")
    (agent,) = _agents(store, block, [call("core_memory_append", label="team", content="x")])

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "append_messages", fail)
    with pytest.raises(RuntimeError):
        agent.send("remember x")
    assert store.get_block(block.id).value == "Team: red"
    assert store.block_history(block.id) == []
    assert agent.state.block("team").value == "Team: red"


def test_attaching_detaching_and_deleting_agents_keep_shared_blocks(store):
    block = Block(label="team", value="Team: red")
    a, b = _agents(store, block, [], [])
    other = Block(label="team", value="another team")
    store.create_block(other)
    with pytest.raises(StoreError, match="already has a block labelled 'team'"):
        store.attach_block(a.id, other.id)
    assert store.detach_block(a.id, block.id)
    store.attach_block(a.id, other.id)
    assert [x.value for x in store.get_agent(a.id).blocks if x.label == "team"] == ["another team"]
    alone = store.get_agent(b.id).blocks
    MemGPT(store=store).delete_agent(b.id)
    assert store.get_block(block.id) is None  # attached to b alone: its memory went with it
    assert store.get_block(other.id) is not None
    assert all(store.get_block(x.id) is None for x in alone)


def test_two_processes_editing_one_block_through_two_agents_lose_no_edit(
    open_store, backend, tmp_path
):
    store = open_store()
    block = Block(label="facts", value="", limit=100_000)
    _agents(store, block, [], [])
    target = str(store.path) if backend == "sqlite" else store.uri
    run_together(CHILD, [[backend, target, name, str(EVENTS)] for name in ("agent0", "agent1")])

    want = sorted(f"agent{a} {i}" for a in range(2) for i in range(EVENTS))
    assert sorted(store.get_block(block.id).value.splitlines()) == want
    history = store.block_history(block.id)
    assert len(history) == 2 * EVENTS
    # Each edit builds on the one before it, whichever agent made that one.
    assert all(e.old_value == before.new_value for before, e in itertools.pairwise(history))
    assert {e.agent_id for e in history} == {store.get_agent(f"agent{a}").id for a in range(2)}
