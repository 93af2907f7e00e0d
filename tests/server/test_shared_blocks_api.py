"""Shared memory blocks through the official SDK, unchanged: this file runs with the 1.x
line in the main environment and with 0.1.307 in .venv-sdk01 (scripts/test)."""

from __future__ import annotations

import uuid

import pytest

from tests.server.sdk import SDK, APIError


@pytest.fixture
def sdk(server):
    return SDK(server.url, server.key_a)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_a_block_shared_by_two_agents_edited_by_one_is_read_by_the_other(sdk):
    block = sdk.create_block("team", "Team: red")
    writer = sdk.create_agent(_name("writer"), block_ids=[block.id])
    reader = sdk.create_agent(_name("reader"))
    sdk.attach_block(reader.id, block.id)
    assert sorted(a.id for a in sdk.block_agents(block.id)) == sorted([writer.id, reader.id])

    sdk.send(writer.id, "note team Lead: Ana")  # the writer's model appends to the block
    assert sdk.get_block(reader.id, "team").value == "Team: red\nLead: Ana"
    assert sdk.get_block(reader.id, "team").id == block.id
    sdk.update_shared_block(block.id, "Team: blue")  # the user, through the block itself
    assert sdk.get_block(writer.id, "team").value == "Team: blue"
    assert sdk.retrieve_block(block.id).value == "Team: blue"

    sdk.detach_block(reader.id, block.id)
    assert "team" not in sdk.agent_block_labels(reader.id)
    assert [a.id for a in sdk.block_agents(block.id)] == [writer.id]
    assert block.id in [b.id for b in sdk.list_blocks(label="team")]
    with pytest.raises(APIError) as info:  # a filter memgpt lacks would list everything
        sdk.list_blocks(value_search="Ana")
    assert info.value.status_code == 400 and "`value_search`" in str(info.value)


def test_block_ids_and_memory_blocks_may_not_share_a_label(sdk):
    block = sdk.create_block("human", "Name: Ana")
    with pytest.raises(APIError) as info:
        sdk.create_agent(_name("clash"), block_ids=[block.id])  # memory_blocks has a human
    assert info.value.status_code == 400 and "labelled 'human'" in str(info.value)
    sdk.delete_block(block.id)
    with pytest.raises(APIError) as info:
        sdk.retrieve_block(block.id)
    assert info.value.status_code == 404


def test_another_organizations_block_is_not_found(server, sdk):
    block = sdk.create_block("team", "secret")
    other = SDK(server.url, server.key_b)
    for attempt in (
        lambda: other.retrieve_block(block.id),
        lambda: other.create_agent(_name("thief"), block_ids=[block.id]),
        lambda: other.block_agents(block.id),
    ):
        with pytest.raises(APIError) as info:
            attempt()
        assert info.value.status_code == 404
    assert block.id not in [b.id for b in other.list_blocks()]


def test_an_agent_file_carries_a_shared_blocks_text_into_a_block_of_the_copys_own(sdk):
    block = sdk.create_block("team", "Team: red")
    agent = sdk.create_agent(_name("exported"), block_ids=[block.id])
    (copy,) = sdk.import_(sdk.export(agent.id), name=_name("copy"))
    assert sdk.get_block(copy, "team").value == "Team: red"
    assert sdk.get_block(copy, "team").id != block.id
    assert [a.id for a in sdk.block_agents(block.id)] == [agent.id]


def test_a_block_over_its_limit_is_refused(http_a):
    created = http_a.post("/v1/blocks/", json={"label": "x", "value": "a" * 20, "limit": 10})
    assert created.status_code == 400 and "over its limit of 10" in created.json()["detail"]
    block = http_a.post("/v1/blocks/", json={"label": "x", "value": "a" * 20}).json()
    shrunk = http_a.patch(f"/v1/blocks/{block['id']}", json={"limit": 10})
    assert shrunk.status_code == 400 and "over its limit" in shrunk.json()["detail"]
    assert http_a.get(f"/v1/blocks/{block['id']}").json()["limit"] == 5000
