"""Hostile input that reaches the agent without the server: search strings and odd text.

- Recall search and archival hybrid search with SQL and FTS5 syntax, quotes, operators and
  random Unicode: plain text, never an error other than a `SearchError` sentence, never a
  change to what is stored.
- `agent.send` with NUL bytes, lone surrogates (JSON can carry them), right-to-left and
  zero-width marks, control characters, 1 MB strings, random Unicode: either a reply, with
  the message stored as sent, or a `MemGPTError` with nothing stored. Either way the
  agent answers the next ordinary message and the database passes its integrity check.
Random cases come from Hypothesis (the dev extra).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from memgpt.agent.agent import Agent
from memgpt.client import MemGPT
from memgpt.embeddings.hash import HashEmbedder
from memgpt.errors import MemGPTError
from memgpt.llm.scripted import ScriptedLLM, call
from memgpt.memory import archival, recall
from memgpt.memory.recall import SearchError
from memgpt.schemas import EmbeddingConfig, storable_text

QUERIES = [
    '"; DROP TABLE messages; --',
    "' OR 1=1 --",
    "Robert'); DROP TABLE passages;--",
    "NEAR(a b, 2)",
    "kayak*",
    "^start",
    "a OR b AND NOT c",
    "body:kayak",
    "text : secret",
    '"unterminated',
    "(((",
    ")))",
    "{col1 col2}: x",
    "- -- ---",
    "*",
    '""',
    "\x00",
    "\ud800",
    "%_%",
    "\\",
    "SELECT * FROM agents",
    "x" * 10_000,
]
ODD_INPUTS = [
    "nul\x00byte",
    "\x00" * 100,
    "lone \ud800 surrogate",
    "\udfff",
    "مرحبا بالعالم \u202eevil\u202c",
    "zero\u200bwidth\ufeff",
    "e\u0301\u0301\u0301 combining",
    "🧗‍♀️🏔️ emoji",
    "\x1b[31mred\x1b[0m \x07",
    "\r\n\t",
    "",
    "   ",
    '"}]}\\',
    "a" * 100_000,
    "word " * 200_000,  # 1 MB
    "山" * 350_000,  # 1 MB of UTF-8
]
ANSWER = "noted"


def _replying(messages, functions):  # type: ignore[no-untyped-def]
    return call("send_message", "answering", message=ANSWER)


def _counts(agent: Agent) -> tuple[int, int]:
    return agent.store.count_messages(agent.id), agent.store.count_passages(agent.id)


def check_query(agent: Agent, query: str) -> list[str]:
    before = _counts(agent)
    problems = []
    for name, search in (
        ("recall", lambda: recall.search_text(agent.store, agent.id, query)),
        ("archival", lambda: archival.search(agent.store, agent.embedder, agent.id, query)),
    ):
        try:
            search()
        except SearchError:
            pass  # a sentence for the model, e.g. "query is empty"
        except Exception as exc:
            problems.append(f"{name} search {query[:40]!r} raised {type(exc).__name__}: {exc}")
    if _counts(agent) != before:
        problems.append(f"search {query[:40]!r} changed what is stored")
    return problems


def check_send(agent: Agent, text: str) -> tuple[str, list[str]]:
    """Send `text`; return the outcome and the violations."""
    before = agent.store.count_messages(agent.id)
    problems = []
    try:
        response = agent.send(text)
    except MemGPTError as exc:
        outcome = type(exc).__name__
        if agent.store.count_messages(agent.id) != before:
            problems.append(f"refused input {text[:30]!r} left messages behind")
        if not str(exc).strip():
            problems.append(f"{outcome} without a sentence")
    except Exception as exc:
        return "crash", [f"send {text[:30]!r} raised {type(exc).__name__}: {exc}"]
    else:
        outcome = "replied"
        events = [m for m in response.messages if m.event == "user_message"]
        if set(response.sent) != {ANSWER} or len(events) != 1:
            problems.append(f"send {text[:30]!r} got {response.stop_reason}")
        elif events[0].text != storable_text(text):
            problems.append(f"send {text[:30]!r} was stored altered")
    follow = agent.send("an ordinary message")
    if set(follow.sent) != {ANSWER}:
        problems.append(f"the agent did not continue after {text[:30]!r}")
    return outcome, problems


def run(examples: int, random_seed: int = 0) -> dict[str, Any]:
    outcomes: Counter[str] = Counter()
    violations: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        client = MemGPT(Path(tmp) / "hostile.db")
        agent = client.create_agent(
            "hostile",
            llm=ScriptedLLM(_replying),
            embedding=EmbeddingConfig(provider="hash"),
            embedder=HashEmbedder(),
        )
        agent.send("DROP the kayak near a b; SELECT secret text")
        archival.insert(agent.store, agent.embedder, agent.id, "DROP TABLE passages near the kayak")
        for query in QUERIES:
            violations += check_query(agent, query)
        for text in ODD_INPUTS:
            outcome, problems = check_send(agent, text)
            outcomes[outcome] += 1
            violations += problems

        # Random Unicode, surrogates and control characters included.
        any_text = st.text(st.characters(exclude_categories=()), max_size=200)

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @seed(random_seed)
        @given(query=any_text, text=any_text)
        def fuzz(query: str, text: str) -> None:
            violations.extend(check_query(agent, query))
            outcome, problems = check_send(agent, text)
            outcomes[outcome] += 1
            violations.extend(problems)

        fuzz()
        if agent.store.integrity_check() != "ok":
            violations.append("integrity_check failed")
        client.close()
    return {
        "queries": len(QUERIES) + examples,
        "inputs": sum(outcomes.values()),
        "outcomes": dict(sorted(outcomes.items())),
        "crashes": outcomes["crash"],
        "violations": len(violations),
        "violation_examples": violations[:5],
    }
