"""How a conversation looks in the terminal: the user's words, the agent's inner monologue
(dimmed), its function calls with their results (one line each unless --debug), memory
edits, and the messages it sends. Text is never parsed as rich markup."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from rich.console import Console
from rich.text import Text

from memgpt.schemas import (
    EventType,
    Message,
    Response,
    StopReason,
    function_return,
    function_succeeded,
    inner_thoughts,
)

MEMORY_EDITS = {"core_memory_append", "core_memory_replace"}
STOP_NOTES = {
    StopReason.MAX_STEPS: "The agent stopped after {steps} chained steps; send a message to go on.",
    StopReason.INVALID_FUNCTION_CALL: (
        "The model made {steps} bad function calls in a row; try /retry or a stronger model."
    ),
    StopReason.CONTEXT_TOO_SMALL: "{error}",
    StopReason.LLM_ERROR: "{error}",
}


class Renderer:
    def __init__(self, console: Console, agent_name: str, debug: bool = False):
        self.console, self.agent_name, self.debug = console, agent_name, debug

    def response(self, response: Response, typed: bool = True, shown: Collection[str] = ()) -> None:
        """Show what one event produced, less the messages `shown` step by step already.
        `typed`: the user's words are on screen already."""
        self.messages([m for m in response.messages if m.id not in shown], typed=typed)
        note = STOP_NOTES.get(response.stop_reason)
        if note:
            text = note.format(steps=response.steps, error=response.error or "")
            self.console.print(Text(text, style="bold red"))

    def messages(self, messages: list[Message], typed: bool = False) -> None:
        results = {m.tool_call_id: m for m in messages if m.role == "tool"}
        calls = {c.id for m in messages if m.role == "assistant" for c in m.tool_calls}
        for message in messages:
            if message.role == "user":
                self._event(message, typed)
            elif message.role == "assistant":
                self._assistant(message, results)
            elif message.tool_call_id not in calls:  # a result whose call is out of view
                self._result_line(message)

    def _event(self, message: Message, typed: bool) -> None:
        if message.event == EventType.USER_MESSAGE:
            if not typed:
                self._line(("you: ", "bold green"), (message.text, ""))
        elif message.event == EventType.SYSTEM_ALERT:
            self._line(("! system: ", "yellow"), (message.text, "yellow"))
        elif self.debug:  # heartbeats and logins only matter when tracing the loop
            self._line((f"· {message.event}: ", "dim"), (message.text, "dim"))

    def _assistant(self, message: Message, results: dict[str | None, Message]) -> None:
        thoughts = inner_thoughts(message)
        if thoughts:
            self._line(("  thinking: ", "dim"), (thoughts, "dim italic"))
        for call in message.tool_calls:
            args = _arguments(call.arguments)
            result = results.get(call.id)
            if call.name == "send_message" and "message" in args and _ok(result):
                self._line((f"{self.agent_name}: ", "bold cyan"), (str(args["message"]), ""))
                continue
            if call.name in MEMORY_EDITS and _ok(result):
                self._line(("  ✎ memory ", "magenta"), (_edit_text(call.name, args), "magenta"))
                continue
            shown = call.arguments if self.debug else _compact(args, call.arguments)
            self._line(("  ⚙ ", "blue"), (call.name, "bold blue"), (f"({shown})", "blue"))
            if result is not None:
                self._result_line(result)

    def _result_line(self, result: Message) -> None:
        ok = function_succeeded(result)
        body = str(function_return(result))
        if ok and body == "None":  # the function returned nothing to report
            body = "OK"
        style = "dim" if ok else "red"
        self._line(("    → " if ok else "    ✗ ", style), (body, style))

    def _line(self, *parts: tuple[str, str]) -> None:
        text = Text.assemble(*parts)
        if self.debug:
            self.console.print(text)
        else:  # one line each: long text ends in an ellipsis at the terminal's edge
            self.console.print(text, no_wrap=True, overflow="ellipsis")


def _arguments(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _ok(result: Message | None) -> bool:
    return result is None or function_succeeded(result)


def _compact(args: dict[str, Any], raw: str) -> str:
    """The call's arguments without the monologue (shown on its own line)."""
    if not args:
        return raw
    return ", ".join(f"{k}={v!r}" for k, v in args.items() if k != "inner_thoughts")


def _edit_text(name: str, args: dict[str, Any]) -> str:
    label = args.get("label", "?")
    if name == "core_memory_append":
        return f"[{label}] + {args.get('content', '')!r}"
    return f"[{label}] {args.get('old_content', '')!r} → {args.get('new_content', '')!r}"
