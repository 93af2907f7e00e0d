"""The issue's flows through the official SDK, unchanged: this file runs with the 1.x
line in the main environment and with 0.1.307 in .venv-sdk01 (the lock's `sdk01` group; scripts/test)."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.server.sdk import LEGACY, SDK, APIError

DICE = '''
def roll_dice(sides: int) -> str:
    """Roll a die.

    Args:
        sides: How many faces the die has.
    """
    return f"rolled {sides}"
'''


@pytest.fixture
def sdk(server):
    return SDK(server.url, server.key_a)


@pytest.fixture
def agent(sdk):
    return sdk.create_agent(f"sam-{uuid.uuid4().hex[:6]}", human="Name: Ana", tags=["test"])


def types(messages) -> list[str]:
    return [m.message_type for m in messages]


def test_agent_crud_with_tag_filters(sdk):
    red = sdk.create_agent("red", tags=["color", "warm"])
    blue = sdk.create_agent("blue", tags=["color", "cool"])
    assert red.name == "red" and {b.label for b in red.memory.blocks} == {"human", "persona"}
    assert [b.value for b in red.memory.blocks if b.label == "human"] == [""]
    assert {a.id for a in sdk.list_agents(tags=["warm", "cool"])} >= {red.id, blue.id}
    assert {a.id for a in sdk.list_agents(tags=["color", "warm"], match_all_tags=True)} == {red.id}
    assert sdk.agents.retrieve(blue.id).tags == ["color", "cool"]
    assert sdk.rename(blue.id, "navy").name == "navy"
    assert sdk.agents.retrieve(blue.id).name == "navy"
    sdk.agents.delete(red.id)
    assert red.id not in {a.id for a in sdk.list_agents()}


def test_message_round_trip_has_every_message_type(sdk, agent):
    reply = sdk.send(agent.id, "hello there")
    assert types(reply.messages) == ["reasoning_message", "assistant_message"]
    assert reply.messages[1].content == "echo: hello there"
    assert reply.stop_reason.stop_reason == "end_turn"

    reply = sdk.send(agent.id, "remember Likes hiking")
    assert types(reply.messages) == [
        "reasoning_message",
        "tool_call_message",
        "tool_return_message",
        "reasoning_message",
        "assistant_message",
    ]
    call = reply.messages[1]
    assert call.tool_call.name == "core_memory_append"
    assert json.loads(call.tool_call.arguments) == {"label": "human", "content": "Likes hiking"}
    assert reply.messages[2].status == "success"
    assert reply.messages[2].tool_call_id == call.tool_call.tool_call_id
    assert "Likes hiking" in sdk.get_block(agent.id, "human").value


def test_max_steps_bounds_the_chain_of_steps(sdk, agent):
    # "remember" takes two steps: the memory edit, then the reply its heartbeat asks for.
    reply = sdk.send(agent.id, "remember Likes sailing", max_steps=1)
    assert types(reply.messages) == [
        "reasoning_message",
        "tool_call_message",
        "tool_return_message",
    ]
    assert reply.stop_reason.stop_reason == "max_steps"


@pytest.mark.parametrize("tokens", [False, True])
def test_streaming_step_by_step_and_by_token(sdk, agent, tokens):
    chunks = sdk.stream(agent.id, "remember Plays chess", tokens=tokens)
    kinds = [c.message_type for c in chunks]
    assert kinds[-2:] == ["stop_reason", "usage_statistics"]
    assert chunks[-2].stop_reason == "end_turn"
    said = "".join(c.content for c in chunks if c.message_type == "assistant_message")
    assert said == "done: None"
    pieces = [c for c in chunks if c.message_type == "assistant_message"]
    assert (len(pieces) > 1) == tokens  # "done: None" is two words
    assert "tool_call_message" in kinds and "tool_return_message" in kinds


def test_list_messages_pages_with_after_and_limit(sdk, agent):
    for i in range(3):
        sdk.send(agent.id, f"message {i}")
    everything = sdk.list_messages(agent.id, limit=100)
    assert [m.content for m in everything if m.message_type == "user_message"] == [
        f"message {i}" for i in range(3)
    ]
    pages, after = [], None
    while True:
        page = sdk.list_messages(agent.id, limit=2, **({"after": after} if after else {}))
        if not page:
            break
        pages.append(page)
        after = page[-1].id
    assert [m.id for page in pages for m in page] == [m.id for m in everything]
    assert all(len(page) <= 2 for page in pages)
    if not LEGACY:  # iterating a 1.x page fetches the next ones with after=<last id>
        auto = sdk.agents.messages.list(agent.id, order="asc", limit=2)
        assert [m.id for m in auto] == [m.id for m in everything]


def test_core_memory_read_and_modify(sdk, agent):
    assert sdk.get_block(agent.id, "human").value == "Name: Ana"
    updated = sdk.set_block(agent.id, "human", "Name: Ana. Likes tea.")
    assert updated.value == "Name: Ana. Likes tea."
    assert "Likes tea" in sdk.get_block(agent.id, "human").value
    blocks = {b.label: b.value for b in sdk.agents.retrieve(agent.id).memory.blocks}
    assert blocks["human"] == "Name: Ana. Likes tea."


def test_archival_insert_list_search_delete(sdk, agent):
    first = sdk.insert_passage(agent.id, "The capital of France is Paris.")[0]
    sdk.insert_passage(agent.id, "Bananas are rich in potassium.")
    texts = sorted(p.text for p in sdk.list_passages(agent.id))
    assert texts == ["Bananas are rich in potassium.", "The capital of France is Paris."]
    found = sdk.search_passages(agent.id, "capital of France")
    results = found.results if hasattr(found, "results") else found
    assert results[0].content == "The capital of France is Paris."
    sdk.delete_passage(agent.id, first.id)
    assert [p.text for p in sdk.list_passages(agent.id)] == ["Bananas are rich in potassium."]
    # The agent's own archival insert lands in the same store.
    sdk.send(agent.id, "archive Ana's cat is called Miso.")
    assert "Ana's cat is called Miso." in [p.text for p in sdk.list_passages(agent.id)]


def test_tool_from_source_run_attach_detach(sdk, agent):
    tool = sdk.create_tool(DICE.replace("roll_dice", f"roll_{agent.id[-6:]}"))
    name = tool.name
    assert tool.json_schema["parameters"]["properties"]["sides"]["type"] == "integer"
    assert "request_heartbeat" not in tool.json_schema["parameters"]["properties"]
    sdk.attach_tool(agent.id, tool.id)
    assert name in sdk.agent_tool_names(agent.id)
    reply = sdk.send(agent.id, f"use {name} 20")
    returns = [m for m in reply.messages if m.message_type == "tool_return_message"]
    assert [r.tool_return for r in returns] == ["rolled 20"]
    assert reply.messages[-1].content == "done: rolled 20"
    assert sdk.run_tool(agent.id, name, DICE.replace("roll_dice", name), {"sides": 6}) == "rolled 6"
    sdk.detach_tool(agent.id, tool.id)
    assert name not in sdk.agent_tool_names(agent.id)
    assert "send_message" in sdk.agent_tool_names(agent.id)


def test_agent_file_export_and_import(sdk, agent):
    tool = sdk.create_tool(DICE.replace("roll_dice", f"dice_{agent.id[-6:]}"))
    sdk.attach_tool(agent.id, tool.id)
    sdk.send(agent.id, "remember Owns a bike")
    sdk.send(agent.id, "hello")
    exported = sdk.export(agent.id)
    data = json.loads(exported)
    assert {b["label"] for b in data["blocks"]} == {"human", "persona"}
    assert tool.name in [t["name"] for t in data["tools"]]

    [copy_id] = sdk.import_(exported, name=None if LEGACY else "sam-copy")
    copy = sdk.agents.retrieve(copy_id)
    assert copy.id != agent.id
    assert copy.name == (agent.name if LEGACY else "sam-copy")
    blocks = {b.label: b.value for b in copy.memory.blocks}
    assert "Owns a bike" in blocks["human"]
    assert tool.name in [t.name for t in copy.tools]
    original = sdk.list_messages(agent.id)
    imported = sdk.list_messages(copy_id)
    strip = lambda ms: [(m.message_type, getattr(m, "content", None)) for m in ms]  # noqa: E731
    assert strip(imported) == strip(original)
    # The copy carries on from where the original was.
    assert sdk.send(copy_id, "still there?").messages[-1].content == "echo: still there?"


LIGHTHOUSE = (
    "The lighthouse on Skerry Point is kept by Orla Quinlan. "
    "She lights the lamp at dusk and feeds the gulls at dawn."
)


def said(reply) -> str:
    """What the agent said in a turn (a memory-pressure alert may bring another reply)."""
    return "\n".join(m.content for m in reply.messages if m.message_type == "assistant_message")


def test_source_upload_wait_until_processed_attach(sdk, agent):
    name = f"docs-{agent.id[-6:]}"
    source = sdk.create_source(name)
    assert source.name == name and source.id in [s.id for s in sdk.list_sources()]

    uploaded = sdk.upload(source.id, "../../lighthouse.txt", LIGHTHOUSE)
    assert uploaded.file_name == "lighthouse.txt"  # a client's path never leaves the folder
    assert uploaded.processing_status in ("pending", "parsing", "embedding", "completed")
    done = sdk.wait_processed(source.id, uploaded.id)
    assert done.processing_status == "completed", done.error_message
    assert done.total_chunks >= 1
    assert [f.id for f in sdk.list_files(source.id)] == [uploaded.id]

    bad = sdk.upload(source.id, "tool.exe", "MZ")
    failed = sdk.wait_processed(source.id, bad.id)
    assert failed.processing_status == "error"
    assert failed.error_message.startswith("tool.exe: unsupported file type")

    sdk.attach_source(agent.id, source.id)
    assert sdk.agent_source_ids(agent.id) == [source.id]
    assert [s.name for s in sdk.agents.retrieve(agent.id).sources] == [name]
    # The agent's archival search now covers the document.
    reply = sdk.send(agent.id, "search who keeps the lighthouse")
    assert "Orla Quinlan" in said(reply)
    # ...and it has the file functions: grep names the file, open puts it in view.
    file_tools = {
        t.name: t.tool_type
        for t in sdk.agents.retrieve(agent.id).tools
        if t.name in ("open_files", "grep_files", "semantic_search_files")
    }
    assert set(file_tools) == {"open_files", "grep_files", "semantic_search_files"}
    assert set(file_tools.values()) == {"letta_files_core"}
    grepped = said(sdk.send(agent.id, "grep orla"))
    file_name = grepped.split("=== ", 1)[1].split(":", 1)[0]
    assert file_name.endswith("/lighthouse.txt")
    sdk.send(agent.id, f"open {file_name}")
    (block,) = sdk.agents.retrieve(agent.id).memory.file_blocks
    assert block.label == file_name and block.is_open and block.source_id == source.id
    assert "1: The lighthouse on Skerry Point is kept by Orla Quinlan." in block.value

    sdk.detach_source(agent.id, source.id)
    assert sdk.agent_source_ids(agent.id) == []
    assert sdk.agents.retrieve(agent.id).memory.file_blocks == []
    assert not {"open_files", "grep_files"} & set(sdk.agent_tool_names(agent.id))
    sdk.delete_source(source.id)
    assert source.id not in [s.id for s in sdk.list_sources()]


def test_a_field_memgpt_does_not_implement_is_refused_by_name(sdk):
    # Accepted and ignored, it would leave an application running without what it asked for.
    with pytest.raises(APIError) as info:
        sdk.agents.create(
            name=f"x-{uuid.uuid4().hex[:6]}",
            identity_ids=["identity-1"],
            message_buffer_autoclear=True,
        )
    assert info.value.status_code == 400
    assert "`identity_ids`, `message_buffer_autoclear`" in str(info.value)
    assert not [a for a in sdk.list_agents() if a.name.startswith("x-")]


def test_tool_rules_at_create_modify_and_in_agent_files(sdk):
    terminal = sdk.tool_rule("exit_loop", tool_name="core_memory_append")
    child = sdk.tool_rule(
        "constrain_child_tools", tool_name="archival_memory_insert", children=["send_message"]
    )
    agent = sdk.create_agent(f"ruled-{uuid.uuid4().hex[:6]}", tool_rules=[terminal, child])
    assert [r.type for r in agent.tool_rules] == ["exit_loop", "constrain_child_tools"]
    assert agent.tool_rules[1].children == ["send_message"]
    # The policy asks for a heartbeat after core_memory_append; the terminal rule ends it.
    reply = sdk.send(agent.id, "remember Likes tea")
    assert types(reply.messages) == [
        "reasoning_message",
        "tool_call_message",
        "tool_return_message",
    ]
    assert reply.usage.step_count == 1

    [copy_id] = sdk.import_(sdk.export(agent.id))
    assert [r.type for r in sdk.agents.retrieve(copy_id).tool_rules] == [
        "exit_loop",
        "constrain_child_tools",
    ]

    modify = sdk.agents.modify if LEGACY else sdk.agents.update
    assert modify(agent.id, tool_rules=[]).tool_rules == []
    reply = sdk.send(agent.id, "remember Likes coffee")
    assert reply.usage.step_count == 2

    with pytest.raises(APIError) as info:
        modify(agent.id, tool_rules=[sdk.tool_rule("run_first", tool_name="no_such_tool")])
    assert info.value.status_code == 400
    assert "'no_such_tool', which this agent does not have" in str(info.value)
    with pytest.raises(APIError) as info:
        rule = {"type": "requires_approval", "tool_name": "send_message", "prompt_template": "x"}
        modify(agent.id, tool_rules=[rule])
    assert info.value.status_code == 400
    assert "`tool_rules.0.requires_approval.prompt_template`" in str(info.value)


def test_an_agent_asks_another_through_the_multi_agent_tools(sdk):
    tools = ["send_message_to_agent_and_wait_for_reply", "send_message_to_agents_matching_tags"]
    tag = f"pair-{uuid.uuid4().hex[:6]}"
    a = sdk.create_agent(f"asker-{tag}", tags=[tag], tools=tools)
    b = sdk.create_agent(f"answerer-{tag}", tags=[tag])
    assert {t.tool_type for t in a.tools if t.name in tools} == {"letta_multi_agent_core"}
    assert {x.id for x in sdk.list_agents(tags=[tag])} == {a.id, b.id}
    reply = sdk.send(a.id, f"ask {b.id} ready?")
    [returned] = [m for m in reply.messages if m.message_type == "tool_return_message"]
    assert json.loads(returned.tool_return) == {"agent_id": b.id, "response": ["echo: ready?"]}
    incoming = [m for m in sdk.list_messages(b.id) if m.message_type == "user_message"]
    assert incoming[-1].content.endswith("] ready?")


def test_reset_messages_and_edit_a_message(sdk, agent, server):
    sdk.send(agent.id, "hello")
    if LEGACY:  # 1.x has no call to edit a message
        from letta_client import UpdateAssistantMessage

        [sent] = [m for m in sdk.list_messages(agent.id) if m.message_type == "assistant_message"]
        edited = sdk.agents.messages.modify(
            agent.id, sent.id, request=UpdateAssistantMessage(content="hello to you")
        )
        assert edited.message_type == "assistant_message" and edited.content == "hello to you"
    before = len(sdk.list_messages(agent.id))
    sdk.agents.messages.reset(agent.id)
    assert server.app.state.service.store.context_messages(agent.id) == []
    assert len(sdk.list_messages(agent.id)) == before  # recall storage keeps every message
    assert sdk.send(agent.id, "again").messages[-1].content == "echo: again"
