"""The grammar a local model's function call is decoded under.

Compiled from the offered function schemas, so every reply is one well-formed call
even on a tiny model: the model writes `{"function": <name>, "arguments": {...}}` and
nothing else. Strings get a `maxLength` sized to the output budget, because an
unbounded string on a small model runs until max_tokens and the JSON never closes. The
budget is in tokens and a string's length in characters, so each character is counted
at its worst-case cost.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

from memgpt.llm.base import FunctionSchema, LLMError
from memgpt.llm.streaming import THOUGHTS

if TYPE_CHECKING:
    from llama_cpp import LlamaGrammar

MAX_STRING_CHARS = 500
# The paper keeps the inner monologue under 50 words; a small model left 500 characters
# fills them, and each character is generated time on a CPU.
MAX_THOUGHT_CHARS = 300
MAX_ARRAY_ITEMS = 8
# Worst-case characters a number, boolean or null takes in the grammar's JSON.
SCALAR_CHARS = 40
# A token holds at least one byte, so a character costs at most its UTF-8 length (4) in
# tokens, or 2 as an escape; the grammar allows no 6-character \uXXXX escape (see `CHAR_RULE`).
TOKENS_PER_CHAR = 4
# The JSON string character of llama-cpp-python's schema converter, and the one used
# instead: the same without \uXXXX (a model has no need of it, raw Unicode is allowed)
# and without raw control characters (which are not JSON).
STOCK_CHAR_RULE = (
    r'char ::= [^"\\] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])'
)
CHAR_RULE = r'char ::= [^"\\\x00-\x1F] | "\\" ["\\/bfnrt]'
STOCK_SPACE_RULE = 'space ::= " "?'
SPACE_RULE = 'space ::= ""'


def _bounded(schema: Any, max_chars: int) -> Any:
    """A copy of `schema` whose strings, arrays and objects all have finite size."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if "items" in schema:
        out["items"] = _bounded(schema["items"], max_chars)
    for key in ("oneOf", "anyOf", "allOf"):
        if key in schema:
            out[key] = [_bounded(s, max_chars) for s in schema[key]]
    if "properties" in schema:
        out["properties"] = {k: _bounded(v, max_chars) for k, v in schema["properties"].items()}
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if _free_string(schema):
        out["maxLength"] = min(schema.get("maxLength", max_chars), max_chars)
    if "array" in types:
        out["maxItems"] = min(schema.get("maxItems", MAX_ARRAY_ITEMS), MAX_ARRAY_ITEMS)
    if "object" in types or "properties" in schema:
        out["additionalProperties"] = False
    return out


def _free_string(schema: Any) -> bool:
    """Whether `schema` allows a string of the model's choosing."""
    if not isinstance(schema, dict) or "enum" in schema or "const" in schema:
        return False
    types = schema.get("type")
    return "string" in (types if isinstance(types, list) else [types])


def _size(schema: Any) -> tuple[int, int]:
    """(free strings, fixed characters) of the largest JSON value `schema` allows.

    Fixed characters are ASCII, a token each at most; a free string's characters cost
    up to `TOKENS_PER_CHAR` tokens each.
    """
    if not isinstance(schema, dict):
        return 0, SCALAR_CHARS
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return max((_size(s) for s in schema[key]), default=(0, SCALAR_CHARS))
    if "enum" in schema or "const" in schema:
        values = schema.get("enum", [schema.get("const")])
        return 0, max(len(json.dumps(v)) for v in values)
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "properties" in schema or "object" in types:
        strings, chars = 0, 4  # the braces and a space after each
        for name, prop in schema.get("properties", {}).items():
            s, c = _size(prop)
            strings, chars = strings + s, chars + c + len(json.dumps(name)) + 4
        return strings, chars
    if "array" in types:
        items = min(schema.get("maxItems", MAX_ARRAY_ITEMS), MAX_ARRAY_ITEMS)
        s, c = _size(schema.get("items", {}))
        return s * items, 2 + (c + 2) * items
    if "string" in types:
        return 1, 3  # the quotes and the space the grammar allows after a value
    return 0, SCALAR_CHARS


def call_schema(functions: list[FunctionSchema], max_tokens: int) -> dict[str, Any]:
    """JSON schema of one call to any of `functions`, fitting in `max_tokens` output tokens."""
    branches = []
    for fn in functions:
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        strings, chars = _size(params)
        chars += len(json.dumps(fn["name"])) + 32  # {"function": ..., "arguments": ...}
        thinks = int(_free_string(params.get("properties", {}).get(THOUGHTS, {})))
        # What is left of the budget, in characters, is shared between the free strings in
        # proportion to their caps: the inner monologue (about 50 words) gets less than a
        # message, so that a reply is not cut short to leave room for thoughts.
        left = max(0, max_tokens - chars) // TOKENS_PER_CHAR
        weight = thinks * MAX_THOUGHT_CHARS + (strings - thinks) * MAX_STRING_CHARS
        share = left / weight if weight else 0.0
        arguments = _bounded(params, max(1, min(MAX_STRING_CHARS, int(share * MAX_STRING_CHARS))))
        if thinks:
            thoughts = arguments["properties"][THOUGHTS]
            cap = max(1, min(MAX_THOUGHT_CHARS, int(share * MAX_THOUGHT_CHARS)))
            thoughts["maxLength"] = min(thoughts["maxLength"], cap)
        branches.append(
            {
                "type": "object",
                "properties": {"function": {"const": fn["name"]}, "arguments": arguments},
                "required": ["function", "arguments"],
                "additionalProperties": False,
            }
        )
    return branches[0] if len(branches) == 1 else {"oneOf": branches}


@functools.lru_cache(maxsize=32)
def compiled(schema_json: str) -> LlamaGrammar:
    """The grammar of `schema_json`, compiled (a few agents share a few sets of tools)."""
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string(grammar_text(schema_json), verbose=False)


def grammar_text(schema_json: str) -> str:
    """The GBNF grammar of `schema_json`, its string characters those of `CHAR_RULE` and
    its JSON compact (`SPACE_RULE`)."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    # The name first, then the thoughts (the model thinks before it fills in the
    # arguments), in compact JSON: exactly as `local._call_text` shows a call back. A call shown
    # back otherwise than the model wrote it is read anew at the next step.
    text = json_schema_to_gbnf(schema_json, prop_order=["function", "arguments", THOUGHTS])
    lines = text.splitlines()
    for stock, ours in ((STOCK_CHAR_RULE, CHAR_RULE), (STOCK_SPACE_RULE, SPACE_RULE)):
        if stock in lines:
            text = text.replace(stock, ours)
        elif stock.split()[0] + " ::=" in text:
            raise LLMError(
                "This llama-cpp-python writes JSON in a grammar memgpt does not know; "
                "install the version memgpt pins (`pip install 'memgpt[local]'`)."
            )
    return text
