"""The text a call's grammar forces (`memgpt.llm.jump_forward`), from the schemas alone."""

from __future__ import annotations

import pytest

from memgpt.llm.jump_forward import CallSkeleton
from tests.llm.test_local import FUNCTIONS

SEND = '{"function":"send_message","arguments":{"inner_thoughts":'
APPEND = '{"function":"core_memory_append","arguments":{"inner_thoughts":'


def function(name: str, required: list[str], **props: dict) -> dict:
    return {
        "name": name,
        "parameters": {"type": "object", "properties": props, "required": required},
    }


@pytest.mark.parametrize(
    ("text", "forced", "ends"),
    [
        # The names share no prefix: the opening only.
        ("", '{"function":"', False),
        ('{"fun', 'ction":"', False),
        # A name's prefix that fits one function: the rest of it, the keys up to the
        # thoughts, and their opening quote.
        ('{"function":"se', 'nd_message","arguments":{"inner_thoughts":"', False),
        ('{"function":"core_memory_append"', ',"arguments":{"inner_thoughts":"', False),
        ('{"function":"send_message","', 'arguments":{"inner_thoughts":"', False),
        # The model writes a string until it closes it, escaped quotes included.
        (SEND + '"I like', "", False),
        (SEND + '"say \\"hi', "", False),
        (SEND + '"say \\"hi\\""', ',"message":"', False),
        (SEND + '"hm",', '"message":"', False),
        # After the last required property: the closing braces, and the call is complete.
        (SEND + '"hm","message":"Hello"', "}}", True),
        (SEND + '"hm","message":"Hello"}', "}", True),
        (SEND + '"hm","message":"Hello"}}', "", True),
        # An enum's values share their opening quote only; a boolean is a choice.
        (APPEND + '"x"', ',"label":"', False),
        (APPEND + '"x","label":"human"', ',"content":"', False),
        (APPEND + '"x","label":"human","content":"y"', ',"request_heartbeat":', False),
        (APPEND + '"x","label":"human","content":"y","request_heartbeat":tru', "", False),
        # A number or literal ends where what follows it is written.
        (APPEND + '"x","label":"human","content":"y","request_heartbeat":true', "", False),
        (APPEND + '"x","label":"human","content":"y","request_heartbeat":true}', "}", True),
    ],
)
def test_forced_text_of_the_default_tools(text: str, forced: str, ends: bool) -> None:
    assert CallSkeleton(FUNCTIONS).forced(text) == (forced, ends)


def test_functions_sharing_a_prefix_force_what_their_names_share() -> None:
    page = {"type": "integer"}
    skeleton = CallSkeleton(
        [
            function("archival_memory_insert", []),
            function("archival_memory_search", [], page=page),
        ]
    )
    assert skeleton.forced("") == ('{"function":"archival_memory_', False)
    assert skeleton.forced('{"function":"archival_memory_s') == (
        'earch","arguments":{',
        False,  # its one property is optional: whether it comes is the model's choice
    )
    # No properties at all: the call closes with the name.
    assert skeleton.forced('{"function":"archival_memory_i') == (
        'nsert","arguments":{}}',
        True,
    )


def test_a_name_that_is_the_prefix_of_another_forces_nothing_at_its_end() -> None:
    skeleton = CallSkeleton([function("send", []), function("send_message", [])])
    assert skeleton.forced('{"function":"send') == ("", False)


def test_required_properties_come_first_in_the_schemas_order() -> None:
    """As the grammar writes them: inner_thoughts first, then the schema's order, the
    optional ones after the required (a choice, so nothing is forced there)."""
    fn = function(
        "search",
        ["query", "inner_thoughts"],
        page={"type": "integer"},
        query={"type": "string"},
        inner_thoughts={"type": "string"},
    )
    skeleton = CallSkeleton([fn])
    start = '{"function":"search","arguments":{'
    assert skeleton.forced("") == (start + '"inner_thoughts":"', False)
    assert skeleton.forced(start + '"inner_thoughts":"t"') == (',"query":"', False)
    assert skeleton.forced(start + '"inner_thoughts":"t","query":"q"') == ("", False)


def test_constants_and_empty_arguments_are_forced_whole() -> None:
    skeleton = CallSkeleton([function("pause", ["mode"], mode={"const": "soft"}), {"name": "noop"}])
    assert skeleton.forced('{"function":"p') == (
        'ause","arguments":{"mode":"soft"}}',
        True,
    )
    assert skeleton.forced('{"function":"n') == ('oop","arguments":{}}', True)


def test_text_of_no_call_forces_nothing() -> None:
    assert CallSkeleton(FUNCTIONS).forced('{"function":"unknown') == ("", False)
