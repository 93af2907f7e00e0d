"""Turn a Python function into a function schema the model sees and a validator for its calls.

The signature and docstring are the single source: the JSON schema, the argument
validation and the description all come from them, never written twice.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_type_hints

import docstring_parser
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from memgpt.schemas import storable_json

INNER_THOUGHTS = "inner_thoughts"
REQUEST_HEARTBEAT = "request_heartbeat"

# Repeated in every schema, so kept short: they cost tokens in every request.
_INNER_THOUGHTS_DOC = "Your private thoughts; the user never sees them. Under 50 words."
_HEARTBEAT_DOC = "true: wake again right after this returns; false: wait for the next event."


class ArgumentError(Exception):
    """The model's arguments do not fit the function; the text tells the model how to fix them."""


@dataclass(frozen=True)
class Function:
    """A function the agent can call. The callable's first parameter receives the agent's
    `FunctionContext`; every other parameter is an argument the model supplies."""

    name: str
    description: str
    fn: Callable[..., Any]
    arguments: type[BaseModel]
    heartbeat: bool

    def schema(self) -> dict[str, Any]:
        parameters = self.arguments.model_json_schema()
        parameters.pop("title", None)
        for prop in parameters.get("properties", {}).values():
            prop.pop("title", None)
        return {"name": self.name, "description": self.description, "parameters": parameters}

    def parse(self, raw: str) -> tuple[str, bool, dict[str, Any]]:
        """Validate a call's raw argument text; return (inner thoughts, heartbeat asked, kwargs)."""
        try:
            # Text a JSON escape decodes to may be unstorable (a NUL, half a surrogate pair).
            data = storable_json(json.loads(raw)) if raw.strip() else {}
        except ValueError as exc:
            raise ArgumentError(
                f"Arguments are not valid JSON ({exc}); send a JSON object."
            ) from None
        if not isinstance(data, dict):
            raise ArgumentError("Arguments must be a JSON object of named parameters.")
        # Thoughts are asked for in the schema but are not worth failing a call over.
        data.setdefault(INNER_THOUGHTS, "")
        try:
            args = self.arguments.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ArgumentError(f"Bad arguments for {self.name}: {problems}.") from None
        kwargs = args.model_dump()
        thoughts = kwargs.pop(INNER_THOUGHTS, "") or ""
        heartbeat = bool(kwargs.pop(REQUEST_HEARTBEAT, False))
        return thoughts, heartbeat, kwargs


def with_loop_arguments(parameters: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema written elsewhere (an MCP tool's) with the inner thoughts and heartbeat
    arguments every function here has."""
    properties = {
        INNER_THOUGHTS: {"type": "string", "description": _INNER_THOUGHTS_DOC},
        **parameters.get("properties", {}),
        REQUEST_HEARTBEAT: {"type": "boolean", "description": _HEARTBEAT_DOC, "default": False},
    }
    required = [INNER_THOUGHTS, *parameters.get("required", [])]
    return {**parameters, "type": "object", "properties": properties, "required": required}


def function_from_callable(fn: Callable[..., Any], *, heartbeat: bool = True) -> Function:
    """Build a `Function` from `fn`'s signature, type hints and docstring.

    `heartbeat=False` marks functions that end the turn by nature (send_message).
    """
    doc = docstring_parser.parse(fn.__doc__ or "")
    param_docs = {p.arg_name: p.description or "" for p in doc.params}
    hints = get_type_hints(fn)
    params = list(inspect.signature(fn).parameters.values())[1:]  # first is the context

    fields: dict[str, Any] = {INNER_THOUGHTS: (str, Field(description=_INNER_THOUGHTS_DOC))}
    for p in params:
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[p.name] = (hints[p.name], Field(default, description=param_docs.get(p.name, "")))
    if heartbeat:
        fields[REQUEST_HEARTBEAT] = (bool, Field(False, description=_HEARTBEAT_DOC))

    model = create_model(
        f"{fn.__name__}_arguments",
        __config__=ConfigDict(extra="ignore"),
        **fields,
    )
    description = "\n\n".join(d for d in (doc.short_description, doc.long_description) if d)
    return Function(fn.__name__, description, fn, model, heartbeat)
