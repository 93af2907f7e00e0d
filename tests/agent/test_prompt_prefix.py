"""Main context runs from stable to volatile (invariant 7): each step's prompt repeats the
previous step's as a prefix, so prefix caches pay only for what is new."""

from __future__ import annotations

import json
import statistics

from memgpt.agent.context import functions_tokens, message_tokens, to_chat
from memgpt.bench.prompt_cache import prefix_share, request_text
from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.openai_compat import OpenAIChat
from memgpt.llm.scripted import call
from memgpt.llm.tokens import estimate_tokens
from memgpt.schemas import EmbeddingConfig, LLMConfig, Passage
from tests.fakes.openai_server import fake_openai

__all__ = ["fake_openai"]  # the fixture is used by name below

SECTIONS = [
    "system_instructions",
    "functions",
    "working_context",
    "open_files",
    "summary",
    "queue",
    "memory_statistics",
]


def replying(messages, functions):
    return call("send_message", "reply", message="ok")


def sent_tokens(agent, context) -> int:
    count = agent.llm.count_tokens
    return sum(message_tokens(m, count) for m in context.messages) + functions_tokens(
        agent.schemas, count
    )


def test_main_context_runs_from_stable_to_volatile(make_agent):
    agent, llm = make_agent(replying)
    agent.send("hello there")
    instructions, memory, *queue = llm.requests[-1][0]
    assert (instructions.role, instructions.content) == ("system", agent.state.system)
    assert memory.role == "system" and memory.content.startswith("### Working context")
    newest = json.loads(queue[-1].content)
    assert newest["message"] == "hello there"
    assert list(newest)[-1] == "memory_statistics"  # the only text that changes every step
    assert newest["memory_statistics"].startswith("1 messages in recall, 0 passages")
    assert list(agent.compile().sections) == SECTIONS


def test_sections_add_up_to_what_is_sent(make_agent):
    agent, _ = make_agent(replying)
    empty = agent.compile()  # statistics as a note of their own
    agent.send("message 1")
    agent.evict(2)
    views = [empty, agent.compile(), agent.compile([agent.queue[-1]])]
    for context in views:
        assert context.total == sent_tokens(agent, context)
        assert context.sections["memory_statistics"] > 0


def test_a_newest_event_that_kept_statistics_shows_the_current_ones(make_agent):
    agent, _ = make_agent([])  # no replies: the model call fails, the event is stored alone
    agent.send("hello there")
    kept = agent.queue[-1].memory_statistics
    assert kept is not None
    agent.store.insert_passages(agent.state.archival_id, [Passage(text="a fact")])
    context = agent.compile()
    newest = json.loads(context.messages[-1].content)
    assert newest["memory_statistics"] != kept and newest["message"] == "hello there"
    assert context.total == sent_tokens(agent, context)
    # The queue counts the event as it is without statistics; the statistics count theirs.
    bare = to_chat(agent.queue[-1].model_copy(update={"memory_statistics": None}))
    assert context.sections["queue"] == message_tokens(bare, agent.llm.count_tokens)


def tool_call(name: str, **arguments: object) -> dict:
    return {"tool_calls": [{"name": name, "arguments": json.dumps(arguments)}]}


REPLY = tool_call("send_message", inner_thoughts="reply", message="Noted, tell me more.")


SIGHTS = "heron otter fox deer hare owl wren vole newt kite lynx mole crane stoat swan".split()


def turn_plan(turn: int) -> list[dict]:
    """The model's calls before its reply: edits, searches and inserts among plain replies."""
    chain = {"inner_thoughts": "first this", "request_heartbeat": True}
    sight, earlier = SIGHTS[turn % len(SIGHTS)], SIGHTS[(turn - 1) % len(SIGHTS)]
    return [
        [tool_call("core_memory_append", label="human", content=f"Saw a {sight}.", **chain)],
        [tool_call("conversation_search", query=earlier, **chain)],
        [tool_call("archival_memory_insert", content=f"Day {turn}: a {sight}.", **chain)],
        [tool_call("archival_memory_search", query=earlier, **chain)],
        [],
    ][turn % 5]


def test_each_step_repeats_the_previous_prompt(client, fake_openai):
    turns = iter(range(100))
    pending: list[dict] = []

    def model(request):
        if "tools" not in request:  # the summarizer
            return {"content": "Summary: the user goes hiking and tells what they saw."}
        if json.loads(request["messages"][-1]["content"])["type"] == "user_message":
            pending[:] = turn_plan(next(turns))
        return pending.pop(0) if pending else REPLY

    server = fake_openai(model)
    llm = OpenAIChat(LLMConfig(provider="openai", model="m", base_url=server.base_url))
    agent = client.create_agent(
        "sam", llm=llm, embedding=EmbeddingConfig(provider="hash"), embedder=HashEmbedder()
    )
    for turn in range(40):
        sight = SIGHTS[turn % len(SIGHTS)]
        agent.send(f"Day {turn}: I went hiking by the river again and saw a {sight} there.")
    assert server.failures == []
    assert any("tools" not in r for r in server.requests), "an eviction called the summarizer"

    steps = [r for r in server.requests if "tools" in r]
    # Between a step and the next, an eviction (a summarizer request) or a memory edit.
    changed = [
        "tools" not in server.requests[server.requests.index(b) - 1]
        or b["messages"][0] != a["messages"][0]
        for a, b in zip(steps, steps[1:], strict=False)
    ]
    shares = []
    for (before, after), change in zip(zip(steps, steps[1:], strict=False), changed, strict=True):
        old, new = before["messages"], after["messages"]
        if change:
            continue  # what follows the instructions changed: the prefix breaks there, once
        # Everything the last request held comes back unchanged, its newest event's
        # statistics included ...
        assert new[: len(old)] == old
        # ... so the tokens no cache has seen are the new messages.
        text = [request_text(r["messages"], r["tools"]) for r in (before, after)]
        shares.append(prefix_share(*text, estimate_tokens))
        searched = any(
            c["function"]["name"].endswith("_search")
            for m in new[len(old) :]
            for c in m.get("tool_calls") or []
        )
        # A page of search results can be more than a tenth of a small prompt on its own.
        assert shares[-1] >= 0.9 or searched, f"step {len(shares)} reuses {shares[-1]:.0%}"
    history = agent.store.list_messages(agent.id, limit=1000)
    edits = sum(c.name == "core_memory_append" for m in history for c in m.tool_calls)
    evictions = len(server.requests) - len(steps)
    assert sum(changed) <= edits + evictions
    # Every step but those after a search reuses 90% (above); with them, most steps do. A
    # page of results is a larger share now that recall search fuses meaning with words:
    # a page is full whenever any message is embedded.
    assert statistics.median(shares) >= 0.9, shares
