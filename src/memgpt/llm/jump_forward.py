"""Jump-forward decoding: the text of a call that its grammar leaves no choice about.

A call under the grammar (`memgpt.llm.grammar`) is compact JSON,
`{"function":"NAME","arguments":{...}}`, whose arguments list their required
properties first (inner_thoughts, then the schema's order) and their optional ones
after. Much of it is fixed once the model has chosen a little: the opening, the rest of
a function name once its prefix fits one function, the keys of required properties, a
string's opening quote, the closing braces. The decoding loop (`memgpt.llm.decoding`)
feeds that text to the model in one batch with the token before it instead of sampling
it a token at a time.

What is forced is worked out from the schemas, not asked of the grammar: llama.cpp can
only tell which tokens a grammar allows by checking the whole vocabulary, one pass a
token. The loop still has the grammar accept every forced token, and stops forcing at
one it refuses.
"""

from __future__ import annotations

import json
import os
from typing import Any

from memgpt.llm.base import FunctionSchema
from memgpt.llm.streaming import THOUGHTS

# The grammar's key order (`grammar.grammar_text`); other keys keep the schema's order.
KEY_ORDER = {"function": 0, "arguments": 1, THOUGHTS: 2}


class Choice:
    """Where the model chooses among optional properties: nothing after it is forced."""


CHOICE = Choice()
Segment = str | dict[str, Any] | Choice  # fixed text, a value of that schema, a choice


def _segments(fn: FunctionSchema) -> list[Segment]:
    params = fn.get("parameters") or {}
    props: dict[str, Any] = params.get("properties") or {}
    required = set(params.get("required") or [])
    keys = [
        k for k in sorted(props, key=lambda k: KEY_ORDER.get(k, len(KEY_ORDER))) if k in required
    ]
    out: list[Segment] = ['{"function":' + json.dumps(fn["name"]) + ',"arguments":{']
    for i, key in enumerate(keys):
        fixed = ("," if i else "") + json.dumps(key) + ":"
        if isinstance(out[-1], str):
            out[-1] += fixed
        else:
            out.append(fixed)
        out.append(props[key])
    out.append(CHOICE if len(keys) < len(props) else "}}")
    return out


def _opening(schema: dict[str, Any]) -> tuple[str, bool]:
    """The text a value of `schema` must begin with, and whether that is all of it."""
    if "const" in schema:
        return json.dumps(schema["const"]), True
    if "enum" in schema:
        values = [json.dumps(v) for v in schema["enum"]]
        return os.path.commonprefix(values), len(set(values)) == 1
    return ('"', False) if schema.get("type") == "string" else ("", False)


def _ahead(segments: list[Segment]) -> tuple[str, bool]:
    """The fixed text at the start of `segments`, and whether it ends the call."""
    out = ""
    for seg in segments:
        if isinstance(seg, Choice):
            return out, False
        if isinstance(seg, str):
            out += seg
            continue
        opening, whole = _opening(seg)
        out += opening
        if not whole:
            return out, False
    return out, True


def _value_end(text: str, i: int) -> int | None:
    """Where the JSON value starting at `text[i]` ends, if `text` holds all of it."""
    if text[i] not in '"{[':
        # A number or literal ends only where what follows it is written.
        ends = [j for j in (text.find(c, i) for c in ",}]") if j >= 0]
        return min(ends) if ends else None
    depth, in_string, escaped = 0, False, False
    for j in range(i, len(text)):
        ch = text[j]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
                if depth == 0:
                    return j + 1
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return j + 1
    return None


def _forced(segments: list[Segment], text: str) -> tuple[str, bool] | None:
    """What must follow `text` in this function's call and whether it ends the call;
    None when `text` is no beginning of one."""
    i = 0
    for k, seg in enumerate(segments):
        if isinstance(seg, Choice):
            return "", False
        if isinstance(seg, str):
            rest = text[i:]
            if len(rest) <= len(seg):
                if not seg.startswith(rest):
                    return None
                ahead, ends = _ahead(segments[k + 1 :])
                return seg[len(rest) :] + ahead, ends
            if not rest.startswith(seg):
                return None
            i += len(seg)
        else:
            end = _value_end(text, i)
            if end is None:
                return "", False  # the model is writing this value
            i = end
    return None


class CallSkeleton:
    """The fixed parts of a call to any of `functions`, as the grammar writes it."""

    def __init__(self, functions: list[FunctionSchema]):
        self._calls = [_segments(fn) for fn in functions]

    def forced(self, text: str) -> tuple[str, bool]:
        """The text that must follow `text` (a beginning of a call), and whether the call
        is complete after it."""
        fits = [f for f in (_forced(c, text) for c in self._calls) if f is not None]
        if len(fits) == 1:
            return fits[0]
        # Several functions still fit: what their continuations share (a name's prefix).
        return os.path.commonprefix([f[0] for f in fits]), False
