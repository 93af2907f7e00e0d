"""The user's actions on a conversation (the CLI's slash commands and the server's message
routes): pop, retry, rethink, rewrite, edit or take out a message, reset, summarize now,
memory warning, switching model, recovering from an interrupt."""

from __future__ import annotations

import contextlib
import json

import pytest

from memgpt.agent import events
from memgpt.agent.actions import AgentActionError
from memgpt.llm.scripted import ScriptedLLM, call
from memgpt.schemas import EventType, StopReason


def echo(messages, functions):
    """Replies "you said: X" to a user message; saves "likes X" to memory on "remember X"."""
    last = json.loads(messages[-1].content) if messages[-1].role == "user" else {}
    if last.get("type") == "user_message":
        text = last["message"]
        if text.startswith("remember "):
            return call(
                "core_memory_append",
                "worth keeping",
                label="human",
                content=f"likes {text[9:]}",
                request_heartbeat=True,
            )
        return call("send_message", f"thinking about {text}", message=f"you said: {text}")
    if last.get("type") == "system_alert":
        return call("send_message", "warned", message="I will save what matters.")
    return call("send_message", "after a heartbeat", message="saved it")


def roles(agent) -> list[str]:
    return [m.role for m in agent.queue]


def test_pop_cuts_back_to_whole_steps_and_keeps_recall(make_agent):
    agent, _ = make_agent(echo)
    agent.send("one")
    agent.send("two")
    before = agent.store.count_messages(agent.id)
    removed = agent.pop(1)  # the last result alone would orphan its call: the step goes
    assert [m.role for m in removed] == ["user", "assistant", "tool"]
    assert removed[0].text == "two"
    assert roles(agent) == ["user", "assistant", "tool"]
    assert agent.store.count_messages(agent.id) == before, "recall keeps popped messages"
    assert [m.id for m in agent.store.context_messages(agent.id)] == [m.id for m in agent.queue]
    with pytest.raises(AgentActionError):
        agent.pop(0)


def test_pop_more_than_the_queue_empties_it(make_agent):
    agent, _ = make_agent(echo)
    agent.send("one")
    assert len(agent.pop(50)) == 3
    assert agent.queue == []
    assert agent.send("again").text == "you said: again"


def test_retry_sends_the_last_user_message_again(make_agent):
    agent, llm = make_agent(echo)
    agent.send("remember tea")  # a two-step chain: memory edit, then heartbeat reply
    response = agent.retry()
    assert response.messages[0].text == "remember tea"
    assert response.text == "saved it"
    user_messages = [m for m in agent.queue if m.event == EventType.USER_MESSAGE]
    assert [m.text for m in user_messages] == ["remember tea"], "the first try left view"


def test_retry_without_a_user_message_says_so(make_agent):
    agent, _ = make_agent(echo)
    with pytest.raises(AgentActionError, match="no user message"):
        agent.retry()


def test_rethink_and_rewrite_amend_the_last_step_in_place(make_agent):
    agent, llm = make_agent(echo)
    agent.send("hello")
    agent.rethink("a better thought")
    agent.rewrite("Hello to you too!")
    assert roles(agent) == ["user", "assistant", "tool"]
    assistant = agent.queue[1]
    args = json.loads(assistant.tool_calls[0].arguments)
    assert args == {"inner_thoughts": "a better thought", "message": "Hello to you too!"}
    assert agent.queue[2].tool_call_id == assistant.tool_calls[0].id
    # The model sees the amended step; recall still holds the original.
    agent.send("next")
    seen = [m.content for m in llm.requests[-1][0] if m.role == "assistant"]
    assert seen == [""]  # thoughts live in the call's arguments
    calls = [m.tool_calls[0].arguments for m in llm.requests[-1][0] if m.role == "assistant"]
    assert "Hello to you too!" in calls[0]
    found, _ = agent.store.search_messages(agent.id, "you said hello", limit=10)
    assert found, "the original reply is still in recall storage"


def test_rewrite_needs_a_sent_message(make_agent):
    agent, _ = make_agent(echo)
    with pytest.raises(AgentActionError, match="no message"):
        agent.rewrite("anything")


def test_summarize_now_folds_the_oldest_half_into_the_summary(make_agent):
    agent, _ = make_agent(echo)
    for i in range(6):
        agent.send(f"message {i}")
    evicted = agent.summarize_now()
    assert 0 < evicted < 18
    assert agent.state.summary.startswith("Summary of earlier conversation")
    assert len(agent.queue) == 18 - evicted
    assert agent.queue[0].role == "user"


def test_summarize_now_with_too_little_conversation(make_agent):
    agent, _ = make_agent(echo)
    with pytest.raises(AgentActionError):
        agent.summarize_now()


def test_memory_warning_reaches_the_agent(make_agent):
    agent, llm = make_agent(echo)
    response = agent.memory_warning()
    assert response.text == "I will save what matters."
    assert "Memory pressure" in response.messages[0].text


def test_set_llm_moves_the_agent_and_is_saved(make_agent, client):
    agent, _ = make_agent(echo)
    other = ScriptedLLM(echo, context_window=4096)
    agent.set_llm(other)
    assert agent.compile().window == 4096
    assert client.store.get_agent(agent.id).llm.context_window == 4096


def test_recover_from_interrupt_discards_an_open_transaction(make_agent, client):
    agent, _ = make_agent(echo)
    agent.send("one")
    stored = client.store.count_messages(agent.id)
    # As if Ctrl-C struck inside a step's transaction, before its commit or rollback ran.
    transaction = client.store.transaction()
    transaction.__enter__()
    client.store.append_messages(agent.id, [events.user_message("half written")])
    agent.recover_from_interrupt()
    with contextlib.suppress(Exception):  # the abandoned transaction's connection is closed
        transaction.__exit__(KeyboardInterrupt, KeyboardInterrupt(), None)
    assert client.store.count_messages(agent.id) == stored
    assert agent.send("two").stop_reason == StopReason.END_TURN
    assert client.store.count_messages(agent.id) == stored + 3


def test_take_out_removes_one_whole_step_from_the_middle(make_agent):
    agent, llm = make_agent(echo)
    for text in ("one", "two", "three"):
        agent.send(text)
    middle = agent.queue[4]  # "two"'s assistant message
    before = agent.store.count_messages(agent.id)
    removed = agent.take_out(middle.id)
    assert [m.text for m in removed if m.role == "user"] == ["two"]
    assert [m.text for m in agent.queue if m.role == "user"] == ["one", "three"]
    assert [m.id for m in agent.store.context_messages(agent.id)] == [m.id for m in agent.queue]
    assert agent.store.count_messages(agent.id) == before, "recall keeps what was taken out"
    agent.send("four")
    assert "two" not in json.dumps([m.content for m in llm.requests[-1][0]])
    with pytest.raises(AgentActionError, match="not in this agent's main context"):
        agent.take_out(middle.id)


@pytest.mark.parametrize(
    ("part", "index", "check"),
    [
        ("user", 0, lambda m: m.text == "edited"),
        (
            "reasoning",
            1,
            lambda m: json.loads(m.tool_calls[0].arguments)["inner_thoughts"] == "edited",
        ),
        ("assistant", 1, lambda m: json.loads(m.tool_calls[0].arguments)["message"] == "edited"),
    ],
)
def test_edit_replaces_one_part_of_a_message_in_view(make_agent, part, index, check):
    agent, llm = make_agent(echo)
    agent.send("one")
    agent.send("two")
    target = agent.queue[index]
    edited = agent.edit(target.id, part, "edited")
    assert check(edited)
    assert agent.queue[index].id == edited.id and len(agent.queue) == 6
    assert [m.id for m in agent.store.context_messages(agent.id)] == [m.id for m in agent.queue]
    agent.send("three")
    seen = json.dumps([m.model_dump() for m in llm.requests[-1][0]])
    assert "edited" in seen


def test_edit_refuses_a_part_the_message_lacks(make_agent):
    agent, _ = make_agent(echo)
    agent.send("one")
    with pytest.raises(AgentActionError, match="has no user text"):
        agent.edit(agent.queue[1].id, "user", "x")


def test_reset_empties_main_context_and_keeps_recall(make_agent):
    agent, llm = make_agent(echo)
    agent.send("one")
    agent.state.summary = "an old summary"
    agent.store.save_agent(agent.state)
    before = agent.store.count_messages(agent.id)
    assert agent.reset() == 3
    assert agent.queue == [] and agent.store.context_messages(agent.id) == []
    assert agent.store.get_agent(agent.id).summary == ""
    assert agent.store.count_messages(agent.id) == before
    assert agent.send("fresh").text == "you said: fresh"
    assert "one" not in json.dumps([m.content for m in llm.requests[-1][0][2:]])
