"""`memgpt run` shows the inner monologue and the reply while the model writes them,
the login greeting included: the spinner's line follows the streamed text piece by piece
before the committed step is printed."""

from __future__ import annotations

import re

from rich.console import Console

from memgpt.cli.session import Session
from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.scripted import ScriptedLLM
from memgpt.llm.streaming import FieldStream, watched_fields
from memgpt.schemas import EmbeddingConfig
from tests.cli.policy import policy


class StreamingScripted(ScriptedLLM):
    """The CLI tests' scripted model, handing its call's text on in word-sized pieces
    as a streaming backend does."""

    streams = True

    def chat(self, messages, functions, on_delta=None, *, cache_key=None, max_tokens=None):
        reply = super().chat(messages, functions, cache_key=cache_key, max_tokens=max_tokens)
        if on_delta is not None and reply.tool_calls:
            call = reply.tool_calls[0]
            fields = FieldStream(watched_fields(call.name), on_delta)
            for piece in re.findall(r"\S+\s*", call.arguments):
                fields.feed(piece)
        return reply


class Screen:
    """What reaches the terminal, in order: the spinner line's texts and printed lines."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.console = Console(file=self, width=200, highlight=False)
        self.console.status = self.status  # type: ignore[method-assign]

    def write(self, text: str) -> int:
        if text.strip():
            self.events.append(("printed", text.strip()))
        return len(text)

    def flush(self) -> None:
        pass

    def status(self, *_args, **_kwargs) -> Screen:
        return self

    def __enter__(self) -> Screen:
        return self

    def __exit__(self, *_exc) -> None:
        pass

    def update(self, text) -> None:
        self.events.append(("spinner", text.plain))


class StillLoading(StreamingScripted):
    """A local model that has not finished loading: `load` waits for it."""

    loaded = False

    def load(self) -> None:
        self.loaded = True


def session(client, llm: ScriptedLLM | None = None) -> tuple[Session, Screen]:
    agent = client.create_agent(
        "sam",
        llm=llm or StreamingScripted(policy),
        embedding=EmbeddingConfig(provider="hash"),
        embedder=HashEmbedder(),
    )
    screen = Screen()
    return Session(client, agent, screen.console, debug=False), screen


def spinner_lines(screen: Screen) -> list[str]:
    return [text for kind, text in screen.events if kind == "spinner"]


def test_the_greeting_streams_before_it_is_printed(client) -> None:
    chat, screen = session(client)
    chat.greet()
    lines = spinner_lines(screen)
    assert lines[:2] == ["thinking: someone", "thinking: someone arrived"]
    assert lines[2:] == ["sam: Hello!", "sam: Hello! I'm", "sam: Hello! I'm Sam."]
    first_print = next(i for i, (kind, _) in enumerate(screen.events) if kind == "printed")
    assert first_print == len(lines)  # all of it was on screen before the step was printed
    assert any("Hello! I'm Sam." in text for kind, text in screen.events if kind == "printed")


def test_a_reply_streams_in_the_chat_loop(client) -> None:
    chat, screen = session(client)
    lines = iter(["hello there", "/exit"])
    chat.loop(lambda: next(lines))
    said = [line for line in spinner_lines(screen) if line.startswith("sam: ")]
    assert len(said) > 1 and said[-1] == "sam: You said: hello there"
    assert all(b.startswith(a) for a, b in zip(said, said[1:], strict=False))  # piece by piece
    assert "thinking: they said hello there" in spinner_lines(screen)


def test_the_first_step_says_it_waits_for_the_model_and_the_next_does_not(client) -> None:
    chat, screen = session(client, StillLoading(policy))
    chat.greet()
    assert spinner_lines(screen)[:3] == [
        "Loading the local models…",
        "sam is thinking…",
        "thinking: someone",
    ]
    lines = iter(["hello there", "/exit"])
    chat.loop(lambda: next(lines))
    assert spinner_lines(screen).count("Loading the local models…") == 1
