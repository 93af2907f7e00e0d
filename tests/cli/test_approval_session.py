"""`memgpt run` asks the user about a call waiting for approval (y/n, then an optional
reason for a no) before reading the next message, a resumed agent included."""

from __future__ import annotations

import json

from pydantic import TypeAdapter

from memgpt.cli.session import Session
from memgpt.embeddings.hash import HashEmbedder
from memgpt.schemas import EmbeddingConfig
from memgpt.tools.rules import ToolRule
from tests.cli.policy import policy
from tests.cli.test_session_stream import Screen, StreamingScripted

RULES = TypeAdapter(list[ToolRule]).validate_python(
    [{"type": "requires_approval", "tool_name": "core_memory_append"}]
)


def _session(client) -> tuple[Session, Screen]:
    agent = client.create_agent(
        "sam",
        llm=StreamingScripted(policy),
        embedding=EmbeddingConfig(provider="hash"),
        embedder=HashEmbedder(),
        tool_rules=RULES,
    )
    screen = Screen()
    return Session(client, agent, screen.console, debug=False), screen


def _printed(screen: Screen) -> str:
    return "\n".join(text for kind, text in screen.events if kind == "printed")


def test_yes_runs_the_call(client) -> None:
    chat, screen = _session(client)
    lines = iter(["my name is Ana", "y", "/exit"])
    chat.loop(lambda: next(lines))
    assert "sam asks to run core_memory_append" in _printed(screen)
    assert "Name: Ana" in chat.agent.memory["human"]
    assert "Nice to meet you!" in _printed(screen)


def test_no_with_a_reason_is_what_the_agent_reads(client) -> None:
    chat, screen = _session(client)
    lines = iter(["my name is Ana", "n", "keep it to yourself", "/exit"])
    chat.loop(lambda: next(lines))
    assert "Name: Ana" not in chat.agent.memory["human"]
    (denied,) = [m for m in chat.agent.queue if m.name == "core_memory_append"]
    assert json.loads(denied.text)["message"].endswith("User reason: keep it to yourself")


def test_a_resumed_agent_is_asked_first(client) -> None:
    chat, _ = _session(client)
    chat.agent.send("my name is Ana")
    again = Session(client, chat.agent, Screen().console, debug=False)
    lines = iter(["y", "/exit"])
    again.loop(lambda: next(lines))
    assert "Name: Ana" in chat.agent.memory["human"]


def test_a_line_typed_while_the_agent_opened_waits_for_the_approval(client) -> None:
    """`memgpt run --first` reads the first line before the agent is open (cli/chat.py):
    the call waiting for approval is settled first, then the line is sent, not lost."""
    chat, _ = _session(client)
    chat.agent.send("my name is Ana")
    screen = Screen()
    again = Session(client, chat.agent, screen.console, debug=False)
    lines = iter(["y", "/exit"])
    again.loop(lambda: next(lines), "hello")
    printed = _printed(screen)
    assert printed.index("sam asks to run core_memory_append") < printed.index("You said: hello")
    assert "Name: Ana" in chat.agent.memory["human"]
