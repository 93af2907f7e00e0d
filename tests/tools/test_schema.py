"""Function schemas come from signatures and docstrings; calls are validated against them."""

from __future__ import annotations

import pytest

from memgpt.tools.base import BASE_FUNCTIONS
from memgpt.tools.schema import ArgumentError, function_from_callable


def plan_trip(ctx, city: str, days: int = 3, tags: list[str] | None = None) -> str:
    """Plan a trip.

    Longer notes for the model.

    Args:
        city: Where to go.
        days: How long to stay.
        tags: Labels for the trip.
    """
    return f"{city}:{days}"


def test_schema_comes_from_signature_and_docstring():
    schema = function_from_callable(plan_trip).schema()
    assert schema["name"] == "plan_trip"
    assert schema["description"] == "Plan a trip.\n\nLonger notes for the model."
    props = schema["parameters"]["properties"]
    assert list(props) == ["inner_thoughts", "city", "days", "tags", "request_heartbeat"]
    assert props["city"] == {"description": "Where to go.", "type": "string"}
    assert props["days"]["type"] == "integer" and props["days"]["default"] == 3
    assert schema["parameters"]["required"] == ["inner_thoughts", "city"]


def test_parse_validates_and_splits_out_thoughts_and_heartbeat():
    f = function_from_callable(plan_trip)
    thoughts, heartbeat, kwargs = f.parse(
        '{"inner_thoughts": "hmm", "city": "Oslo", "days": "4", "request_heartbeat": true}'
    )
    assert (thoughts, heartbeat, kwargs) == ("hmm", True, {"city": "Oslo", "days": 4, "tags": None})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"city": ', "not valid JSON"),
        ("[1]", "JSON object"),
        ('{"days": 2}', "city: Field required"),
        ('{"city": "Oslo", "days": "many"}', "days: Input should be a valid integer"),
    ],
)
def test_bad_arguments_explain_themselves(raw, message):
    with pytest.raises(ArgumentError, match=message):
        function_from_callable(plan_trip).parse(raw)


def test_send_message_ends_the_turn_and_others_can_chain():
    assert (
        "request_heartbeat"
        not in BASE_FUNCTIONS["send_message"].schema()["parameters"]["properties"]
    )
    assert (
        "request_heartbeat"
        in BASE_FUNCTIONS["archival_memory_search"].schema()["parameters"]["properties"]
    )
    assert set(BASE_FUNCTIONS) == {
        "send_message",
        "core_memory_append",
        "core_memory_replace",
        "conversation_search",
        "conversation_search_date",
        "archival_memory_insert",
        "archival_memory_search",
        "pause_heartbeats",
    }
