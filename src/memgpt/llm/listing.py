"""The function listing a local model reads: each function in a few plain lines.

A model without native function calling learns its functions from its system turn
(`memgpt.llm.local`). Every function of the agent's loop takes the same two arguments,
the inner monologue and the heartbeat request (`memgpt.tools.schema`): listed as JSON,
their descriptions repeated in every schema. Here they are described once, and each
function is a signature and its description, with its own parameters below it. The
grammar (`memgpt.llm.grammar`) still gets the full schemas, so calls stay well-formed
whatever the listing leaves unsaid.
"""

from __future__ import annotations

import json
from typing import Any

from memgpt.llm.base import FunctionSchema
from memgpt.llm.streaming import THOUGHTS

HEARTBEAT = "request_heartbeat"
SHARED = (THOUGHTS, HEARTBEAT)

CALL_INSTRUCTION = (
    "You must reply by calling exactly one function. Write only a JSON object of the form "
    '{"function":"<function name>","arguments":{<the arguments>}} and nothing else.'
)

_SCALARS = {"string", "integer", "number", "boolean", "null"}


def listing(functions: list[FunctionSchema]) -> str:
    """The call instruction, the shared arguments, and one entry per function."""
    shared = _shared(functions)
    lines = [CALL_INSTRUCTION]
    if shared:
        lines.append("Arguments shared by the functions that name them:")
        lines += [_parameter(name, schema) for name, schema in shared.items()]
    lines.append("The functions you can call are:")
    for function in functions:
        lines += _entry(function, shared)
    return "\n".join(lines)


def _shared(functions: list[FunctionSchema]) -> dict[str, Any]:
    """The loop's arguments as the first function taking each defines it."""
    shared: dict[str, Any] = {}
    for function in functions:
        for name, schema in _properties(function).items():
            if name in SHARED:
                shared.setdefault(name, schema)
    return {name: shared[name] for name in SHARED if name in shared}


def _properties(function: FunctionSchema) -> dict[str, Any]:
    return (function.get("parameters") or {}).get("properties") or {}


def _entry(function: FunctionSchema, shared: dict[str, Any]) -> list[str]:
    """`name(arguments): description`, then the arguments not described already.

    The arguments are in the order the grammar has them written: the required ones,
    then the optional ones, each marked with its default.
    """
    parameters = function.get("parameters") or {}
    properties = _properties(function)
    required = set(parameters.get("required") or [])
    order = [n for n in properties if n in required] + [n for n in properties if n not in required]
    signature = ", ".join(_argument(n, properties[n], n in required) for n in order)
    description = " ".join(str(function.get("description") or "").split())
    lines = [f"{function['name']}({signature})" + (f": {description}" if description else "")]
    lines += [
        "  " + _parameter(name, properties[name])
        for name in order
        if shared.get(name) != properties[name]
    ]
    for key in ("$defs", "definitions"):  # what a parameter's "$ref" points into
        if key in parameters:
            lines.append(f"  {key}: {_compact(parameters[key])}")
    return lines


def _argument(name: str, schema: Any, required: bool) -> str:
    if required:
        return name
    if isinstance(schema, dict) and "default" in schema:
        return f"{name}={_compact(schema['default'])}"
    return f"[{name}]"


def _parameter(name: str, schema: Any) -> str:
    """`- name (type): description`."""
    if not isinstance(schema, dict):
        return f"- {name}"
    description = " ".join(str(schema.get("description") or "").split())
    return f"- {name} ({_type(schema)})" + (f": {description}" if description else "")


def _type(schema: dict[str, Any]) -> str:
    """A schema's type in words where it is simple; otherwise the schema, in compact JSON."""
    if "enum" in schema:
        return "one of " + ", ".join(_compact(v) for v in schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, str) and kind in _SCALARS:
        return kind
    if kind == "array" and isinstance(schema.get("items"), dict):
        items = _type(schema["items"])
        if not items.startswith("{"):
            return f"array of {items}"
    if "anyOf" in schema and all(isinstance(s, dict) for s in schema["anyOf"]):
        kinds = [_type(s) for s in schema["anyOf"]]
        if not any(k.startswith("{") for k in kinds):
            return " or ".join(kinds)
    return _compact({k: v for k, v in schema.items() if k not in ("description", "default")})


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
