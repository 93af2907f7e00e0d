"""Main context stays inside the window (invariant 1); eviction and the recursive summary
(invariants 3 and 4); the memory-pressure warning."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from memgpt.agent.context import functions_tokens, message_tokens
from memgpt.client import MemGPT
from memgpt.embeddings.hash import HashEmbedder
from memgpt.errors import ContextTooSmallError, InputTooLargeError
from memgpt.llm.scripted import ScriptedLLM, call
from memgpt.schemas import EmbeddingConfig, StopReason

WORDS = "alpha beta gamma delta hiking tea river mountain blue 42 7e3f-19ab".split()


def text_of(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def request_tokens(llm, messages, functions) -> int:
    return sum(message_tokens(m, llm.count_tokens) for m in messages) + functions_tokens(
        functions, llm.count_tokens
    )


def random_policy(seed: int, max_words: int):
    rng = random.Random(seed)

    def policy(messages, functions):
        action = rng.random()
        size = rng.randint(1, max_words)
        if action < 0.25:
            return call(
                "core_memory_append",
                label="human",
                content=text_of(rng, min(size, 60)),
                request_heartbeat=rng.random() < 0.5,
            )
        if action < 0.45:
            return call(
                "archival_memory_insert", content=text_of(rng, size), request_heartbeat=True
            )
        if action < 0.6:
            return call("archival_memory_search", query=text_of(rng, 3), request_heartbeat=True)
        if action < 0.7:
            return call("conversation_search", query=text_of(rng, 2), request_heartbeat=True)
        return call("send_message", text_of(rng, 10), message=text_of(rng, size))

    return policy


# No shrinking: a failure prints its example, and CI time stays bounded.
@settings(
    max_examples=15,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 10**6),
    window=st.integers(6000, 16000),
    user_sizes=st.lists(st.integers(1, 600), min_size=3, max_size=12),
    reply_words=st.integers(5, 400),
)
def test_every_request_fits_the_window(seed, window, user_sizes, reply_words):
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        client = MemGPT(Path(tmp) / "m.db")
        llm = ScriptedLLM(random_policy(seed, reply_words), context_window=window)
        agent = client.create_agent(
            "prop", llm=llm, embedding=EmbeddingConfig(provider="hash"), embedder=HashEmbedder()
        )
        sent = 0
        for size in user_sizes:
            try:
                agent.send(text_of(rng, size))
                sent += 1
            except InputTooLargeError:
                pass
        budget = window - llm.config.max_output_tokens
        for messages, functions in llm.requests:
            assert request_tokens(llm, messages, functions) <= budget
        user_messages = [
            m for m in agent.store.list_messages(agent.id, limit=10**6) if m.event == "user_message"
        ]
        assert len(user_messages) == sent  # recall keeps every message (invariant 3)
        client.close()


def chat(agent, n: int, words: int = 60) -> list[str]:
    """Send n messages; return the ids of every message the turns produced."""
    rng = random.Random(n)
    ids = []
    for i in range(n):
        ids += [m.id for m in agent.send(f"message {i}: " + text_of(rng, words)).messages]
    return ids


def replying(messages, functions):
    return call("send_message", "reply", message="ok " * 20)


def test_overflow_evicts_into_a_summary_and_keeps_every_message(make_agent):
    agent, llm = make_agent(replying, context_window=6000)
    produced = chat(agent, 40)
    assert agent.state.summary.startswith("Summary of earlier conversation")
    assert any(not functions for _, functions in llm.requests), "the summarizer was called"
    queue = agent.store.context_messages(agent.id)
    stored = [m.id for m in agent.store.list_messages(agent.id, limit=10**6)]
    assert len(queue) < len(stored)
    assert stored == produced  # every message kept, in order: eviction deletes nothing
    # a cut never separates a call from its result
    assert queue[0].role == "user"
    call_ids = {c.id for m in queue for c in m.tool_calls}
    assert all(m.tool_call_id in call_ids for m in queue if m.role == "tool")
    evicted, _ = agent.store.search_messages(agent.id, "message 0", limit=50)
    assert any(m.text.startswith("message 0:") and not m.in_context for m in evicted)


def test_summary_is_recursive(make_agent):
    agent, llm = make_agent(replying, context_window=6000)
    chat(agent, 80)
    summarizer_inputs = [
        messages[-1].content for messages, functions in llm.requests if not functions
    ]
    assert len(summarizer_inputs) >= 2
    # each later summary is built from the one before it
    assert (
        "Summary of earlier conversation" in summarizer_inputs[-1].split("Messages leaving view")[0]
    )


def test_memory_pressure_warning_comes_before_eviction(make_agent):
    agent, llm = make_agent(replying, context_window=6000)
    warned_at = evicted_at = None
    for i in range(40):
        agent.send(f"message {i}: " + text_of(random.Random(i), 60))
        texts = [m.text for m in agent.store.list_messages(agent.id, limit=10**6)]
        if warned_at is None and any("Memory pressure" in t for t in texts):
            warned_at = i
        if evicted_at is None and agent.state.summary:
            evicted_at = i
    assert warned_at is not None and evicted_at is not None
    assert warned_at < evicted_at


@pytest.mark.parametrize(("fraction", "warned"), [(0.7, True), (0.95, False)])
def test_warning_fraction_is_configurable(make_agent, fraction, warned):
    agent, _ = make_agent(replying, context_window=6000)
    agent.state.memory_warning_fraction = fraction
    agent.store.save_agent(agent.state)
    for i in range(3):
        agent.send(f"message {i}: " + text_of(random.Random(i), 60))
    assert 0.7 < agent.compile().fraction < 0.95
    texts = [m.text for m in agent.store.list_messages(agent.id, limit=1000)]
    assert any("Memory pressure" in t for t in texts) == warned


def test_input_larger_than_the_window_is_rejected_before_the_llm(make_agent):
    agent, llm = make_agent(replying, context_window=6000)
    with pytest.raises(InputTooLargeError, match="split it"):
        agent.send("word " * 5000)
    assert llm.requests == []
    assert agent.store.count_messages(agent.id) == 0


def test_window_too_small_for_the_instructions_fails_at_creation(make_agent):
    with pytest.raises(ContextTooSmallError, match="larger context window"):
        make_agent(replying, context_window=2048)


def test_context_too_small_is_a_typed_stop(make_agent):
    agent, llm = make_agent(
        [call("core_memory_append", label="human", content="x1" * 2400, request_heartbeat=True)],
        context_window=6000,
    )
    response = agent.send("fill your memory")
    assert response.stop_reason == StopReason.CONTEXT_TOO_SMALL
    assert "larger context window" in response.error
