"""The context budget, property-based: whatever the sizes, no request overflows the window.

Hypothesis draws a window (down to ones too small for the instructions), the reply room,
the size of the system instructions, of an extra memory block, of each user message, of
the model's replies and memory writes (which become function results) and of the
summaries the summarizer returns (up to far past the summary's share). A random agent
policy then converses. Every request the model receives, summarizer requests included,
must fit the window less the reply room; an agent whose fixed parts cannot fit must be
refused at creation with a sentence saying what to do; a message too large for the
window must be refused before it reaches the model; any other end is a typed stop reason.
Needs `hypothesis` (the dev extra).
"""

from __future__ import annotations

import random
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from memgpt.agent.context import functions_tokens, message_tokens
from memgpt.agent.prompts import SYSTEM_INSTRUCTIONS
from memgpt.client import MemGPT
from memgpt.embeddings.hash import HashEmbedder
from memgpt.errors import ContextTooSmallError, InputTooLargeError
from memgpt.llm.base import ChatMessage, FunctionSchema, LLMReply
from memgpt.llm.scripted import ScriptedLLM, call
from memgpt.schemas import Block, EmbeddingConfig

WORDS = "alpha beta gamma delta hiking tea river mountain blue 42 7e3f-19ab ünïcødé 山川".split()


@dataclass(frozen=True)
class Case:
    seed: int
    window: int
    max_output_tokens: int
    system_words: int
    block_chars: int
    user_words: list[int]
    reply_words: int
    summary_words: int


def cases() -> st.SearchStrategy[Case]:
    return st.builds(
        Case,
        seed=st.integers(0, 10**6),
        # Uniform over branches: some tiny windows, mostly ones an agent can live in.
        window=st.one_of(
            st.integers(512, 6000), st.integers(4000, 16000), st.integers(6000, 16000)
        ),
        max_output_tokens=st.sampled_from([128, 512, 1024]),
        system_words=st.one_of(st.just(0), st.integers(1, 300), st.integers(1, 4000)),
        block_chars=st.one_of(st.integers(0, 500), st.integers(0, 3000), st.integers(0, 20_000)),
        user_words=st.lists(
            st.one_of(st.integers(1, 200), st.integers(1, 3000)), min_size=1, max_size=8
        ),
        reply_words=st.integers(1, 3000),
        summary_words=st.integers(0, 20_000),
    )


def text_of(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def _policy(rng: random.Random, max_words: int):
    def policy(messages: list[ChatMessage], functions: list[FunctionSchema]) -> LLMReply:
        size, action = rng.randint(1, max_words), rng.random()
        if action < 0.2:
            return call(
                "core_memory_append",
                label="notes",
                content=text_of(rng, size),
                request_heartbeat=True,
            )
        if action < 0.4:
            return call(
                "archival_memory_insert", content=text_of(rng, size), request_heartbeat=True
            )
        if action < 0.55:
            return call("archival_memory_search", query=text_of(rng, 3), request_heartbeat=True)
        if action < 0.7:
            return call("conversation_search", query=text_of(rng, 2), request_heartbeat=True)
        return call("send_message", text_of(rng, size), message=text_of(rng, size))

    return policy


def request_tokens(
    llm: ScriptedLLM, messages: list[ChatMessage], functions: list[FunctionSchema]
) -> int:
    count = llm.count_tokens
    return sum(message_tokens(m, count) for m in messages) + functions_tokens(functions, count)


def check_case(case: Case) -> tuple[Counter[str], list[str]]:
    """Run one case; return how its events ended and the violations found."""
    rng = random.Random(case.seed)
    llm = ScriptedLLM(
        _policy(rng, case.reply_words),
        context_window=case.window,
        summarize=lambda _messages: text_of(rng, case.summary_words),
    )
    llm.config = llm.config.model_copy(update={"max_output_tokens": case.max_output_tokens})
    system = SYSTEM_INSTRUCTIONS + (
        "\n" + text_of(rng, case.system_words) if case.system_words else ""
    )
    block = Block(
        label="notes", value=text_of(rng, case.block_chars // 6)[: case.block_chars], limit=40_000
    )
    with tempfile.TemporaryDirectory() as tmp:
        client = MemGPT(Path(tmp) / "m.db")
        try:
            agent = client.create_agent(
                "prop",
                llm=llm,
                system=system,
                blocks=[block],
                embedding=EmbeddingConfig(provider="hash"),
                embedder=HashEmbedder(),
            )
        except ContextTooSmallError as exc:
            client.close()
            ok = "larger context window" in str(exc)
            outcome = Counter(["refused_at_creation"])
            return outcome, [] if ok else [f"unclear creation error: {exc}"]
        problems: list[str] = []
        outcomes: Counter[str] = Counter()
        accepted = 0
        for words in case.user_words:
            try:
                response = agent.send(text_of(rng, words))
            except InputTooLargeError:
                outcomes["input_too_large"] += 1
                continue
            accepted += 1
            outcomes[str(response.stop_reason)] += 1
        budget = case.window - case.max_output_tokens
        for messages, functions in llm.requests:
            used = request_tokens(llm, messages, functions)
            if used > budget:
                kind = "summarizer" if not functions else "agent"
                problems.append(f"{kind} request of {used} tokens in a budget of {budget}")
        stored = agent.store.list_messages(agent.id, limit=10**6)
        if sum(m.event == "user_message" for m in stored) != accepted:
            problems.append("recall storage lost an accepted message")
        client.close()
    return outcomes, problems


def run(examples: int, random_seed: int = 0) -> dict[str, Any]:
    """Try `examples` Hypothesis cases; return the figures."""
    outcomes: Counter[str] = Counter()
    violations: list[str] = []
    tried = 0

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # no shrinking: a failure prints its case, and time stays bounded
        suppress_health_check=list(HealthCheck),
    )
    @seed(random_seed)
    @given(case=cases())
    def trial(case: Case) -> None:
        nonlocal tried
        tried += 1
        outcome, problems = check_case(case)
        outcomes.update(outcome)
        violations.extend(f"{p} ({case})" for p in problems)

    trial()
    return {
        "cases": tried,
        "outcomes": dict(sorted(outcomes.items())),
        "violations": len(violations),
        "violation_examples": violations[:5],
    }
