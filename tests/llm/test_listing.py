"""The function listing a local model reads: every function and argument, the loop's shared
arguments described once (in JSON they were repeated in every schema)."""

from __future__ import annotations

import json

from memgpt.llm.listing import listing
from memgpt.tools.base import BASE_FUNCTIONS
from memgpt.tools.builtin import BUILTIN_FUNCTIONS
from memgpt.tools.schema import with_loop_arguments

SCHEMAS = [f.schema() for f in BUILTIN_FUNCTIONS.values()]  # memory, files, other agents


def description(schemas: list[dict], argument: str) -> str:
    (text,) = {
        s["parameters"]["properties"][argument]["description"]
        for s in schemas
        if argument in s["parameters"]["properties"]
    }
    return text


def test_the_loops_arguments_are_described_once() -> None:
    text = listing(SCHEMAS)
    for argument in ("inner_thoughts", "request_heartbeat"):
        assert sum(argument in s["parameters"]["properties"] for s in SCHEMAS) > 1
        assert text.count(description(SCHEMAS, argument)) == 1
    assert len(text) < 0.6 * len("\n".join(json.dumps(s) for s in SCHEMAS))


def test_every_function_is_listed_with_its_arguments_in_the_order_the_grammar_writes_them():
    """The grammar has the required arguments written first, then the optional ones."""
    lines = listing(SCHEMAS).splitlines()
    for schema in SCHEMAS:
        parameters = schema["parameters"]
        required = parameters["required"]
        optional = [n for n in parameters["properties"] if n not in required]
        [line] = [line for line in lines if line.startswith(schema["name"] + "(")]
        signature = line[len(schema["name"]) + 1 : line.index(")")].split(", ")
        assert [a.split("=")[0] for a in signature] == required + optional
        assert line.endswith(" ".join(schema["description"].split()))
    search = "conversation_search(inner_thoughts, query, page=0, request_heartbeat=false): "
    assert any(line.startswith(search) for line in lines)


def test_each_argument_is_described_with_its_type() -> None:
    text = listing([BASE_FUNCTIONS["core_memory_replace"].schema()])
    assert '  - label (string): The block to edit, e.g. "human" or "persona".' in text
    assert "  - old_content (string): The exact text to replace, as it stands in the block." in (
        text
    )


def test_an_argument_unlike_the_shared_one_is_described_where_it_is_taken() -> None:
    own = with_loop_arguments(
        {"properties": {"n": {"type": "integer", "description": "How many."}}, "required": ["n"]}
    )
    own["properties"]["request_heartbeat"] = {"type": "boolean", "description": "Always true."}
    schemas = [
        BASE_FUNCTIONS["conversation_search"].schema(),
        {"name": "count", "description": "Count.", "parameters": own},
    ]
    lines = listing(schemas).splitlines()
    entry = lines[lines.index("count(inner_thoughts, n, [request_heartbeat]): Count.") :]
    assert entry[1:3] == [
        "  - n (integer): How many.",
        "  - request_heartbeat (boolean): Always true.",
    ]
    assert description(schemas[:1], "request_heartbeat") in "\n".join(lines[:4])


def test_types_are_words_where_simple_and_the_schema_otherwise() -> None:
    point = {"type": "object", "properties": {"x": {"type": "number"}}}
    parameters = {
        "type": "object",
        "properties": {
            "mode": {"enum": ["fast", "slow"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "at": {"$ref": "#/$defs/Point", "description": "Where."},
        },
        "required": ["mode", "tags", "at"],
        "$defs": {"Point": point},
    }
    text = listing([{"name": "go", "description": "", "parameters": parameters}])
    assert "go(mode, tags, at, note=null)" in text.splitlines()
    for line in (
        '  - mode (one of "fast", "slow")',
        "  - tags (array of string)",
        "  - note (string or null)",
        '  - at ({"$ref":"#/$defs/Point"}): Where.',
        '  $defs: {"Point":{"type":"object","properties":{"x":{"type":"number"}}}}',
    ):
        assert line in text.splitlines()
