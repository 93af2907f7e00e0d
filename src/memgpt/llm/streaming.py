"""Text of a function call's string arguments while the call's JSON is still arriving.

A streamed tool call comes as fragments of its arguments' JSON text; the user should see
the inner thoughts and the message being written, not wait for the closing brace. This
reads the fragments once, character by character, and hands on the decoded text of the
top-level string fields it was asked for.
"""

from __future__ import annotations

from collections.abc import Callable

OnDelta = Callable[[str, str], None]
"""on_delta(field, text): more of the inner thoughts (THOUGHTS: the call's argument, or
the model's free text) or of the message it sends (MESSAGE)."""

# The argument names of memgpt's functions (`memgpt.tools`) that the user sees written.
THOUGHTS = "inner_thoughts"
MESSAGE = "message"
SEND_MESSAGE = "send_message"


def watched_fields(function: str) -> set[str]:
    return {THOUGHTS, MESSAGE} if function == SEND_MESSAGE else {THOUGHTS}


_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class FieldStream:
    """Feed it the arguments' JSON text in pieces; it calls `on_delta` with new text of
    the watched top-level string fields."""

    def __init__(self, watched: set[str], on_delta: OnDelta, level: int = 1):
        """`level`: the depth of the object holding the fields (1: the top level; 2: an
        object inside it, as the local model's {"function": ..., "arguments": {...}})."""
        self.watched, self.on_delta, self.level = watched, on_delta, level
        self._depth = 0
        self._in_string = False
        self._is_key = False  # the string being read is a top-level key
        self._after_colon = False  # at the top level, a value comes next
        self._key: list[str] = []
        self._field: str | None = None  # the top-level key whose value is being read
        self._escape: str | None = None  # an escape sequence read so far ("\\", "\\u00")
        self._high: str | None = None  # the first half of a surrogate pair

    def feed(self, text: str) -> None:
        out: list[str] = []
        for ch in text:
            if self._in_string:
                self._string_char(ch, out)
            elif ch == '"':
                self._in_string = True
                self._is_key = self._depth == self.level and not self._after_colon
                self._key = []
            elif ch in "{[":
                self._depth += 1
                if self._depth == self.level:  # the object holding the fields opens
                    self._after_colon, self._field = False, None
            elif ch in "}]":
                self._depth -= 1
            elif ch == ":" and self._depth == self.level:
                self._after_colon = True
            elif ch == "," and self._depth == self.level:
                self._after_colon, self._field = False, None
        if out and self._field is not None:
            self.on_delta(self._field, "".join(out))

    def _string_char(self, ch: str, out: list[str]) -> None:
        if self._escape is not None:
            self._escape += ch
            decoded = self._decode_escape()
            if decoded is None:
                return
            self._escape = None
            self._keep(decoded, out)
        elif ch == "\\":
            self._escape = "\\"
        elif ch == '"':
            self._in_string = False
            if self._is_key:
                self._field = "".join(self._key)
            elif self._depth == self.level:
                # The value is done: flush it under its own field before another starts.
                if out and self._field in self.watched:
                    self.on_delta(self._field, "".join(out))
                out.clear()
        else:
            self._keep(ch, out)

    def _decode_escape(self) -> str | None:
        """The text of a complete escape sequence; None while it is incomplete."""
        body = self._escape[1:] if self._escape else ""
        if body[:1] != "u":
            return _ESCAPES.get(body, body)
        if len(body) < 5:
            return None
        try:
            code = int(body[1:5], 16)
        except ValueError:
            return "\ufffd"
        if 0xD800 <= code < 0xDC00:
            self._high = chr(code)
            return ""
        if 0xDC00 <= code < 0xE000 and self._high:
            pair = (self._high + chr(code)).encode("utf-16", "surrogatepass").decode("utf-16")
            self._high = None
            return pair
        return chr(code)

    def _keep(self, text: str, out: list[str]) -> None:
        if self._is_key:
            self._key.append(text)
        elif self._depth == self.level and self._field in self.watched:
            out.append(text)
