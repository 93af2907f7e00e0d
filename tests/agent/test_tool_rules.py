"""Tool rules in Letta's schema, enforced by the loop: the model is offered only the
functions the rules allow next, a call outside them is a failed result, terminal rules end
the chain and required-before-exit rules keep it going. On both store backends."""

from __future__ import annotations

import json

import pytest
from pydantic import TypeAdapter

from memgpt.client import MemGPT
from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.scripted import ScriptedLLM, call
from memgpt.schemas import EmbeddingConfig, StopReason
from memgpt.tools.rules import ToolRule, ToolRuleError
from tests.store.backends import BACKENDS, store_opener

RULES = TypeAdapter(list[ToolRule])


@pytest.fixture(params=BACKENDS)
def make_ruled(request, tmp_path):
    """make_ruled(script, rules) -> (agent, llm), with `rules` in Letta's JSON shape."""
    client = MemGPT(store=store_opener(request.param, tmp_path)())

    def make(script, rules: list[dict]):
        llm = ScriptedLLM(script)
        agent = client.create_agent(
            "ruled",
            llm=llm,
            embedding=EmbeddingConfig(provider="hash"),
            embedder=HashEmbedder(),
            tool_rules=RULES.validate_python(rules),
        )
        return agent, llm

    yield make
    client.close()


def offered(llm) -> list[set[str]]:
    """The function names offered at each step (summarizer calls left out)."""
    return [{f["name"] for f in functions} for _, functions in llm.requests if functions]


def results(response) -> list[dict]:
    return [json.loads(m.text) for m in response.messages if m.role == "tool"]


def test_terminal_rule_ends_the_chain_despite_a_heartbeat(make_ruled):
    agent, llm = make_ruled(
        [call("core_memory_append", label="human", content="x", request_heartbeat=True)],
        [{"type": "exit_loop", "tool_name": "core_memory_append"}],
    )
    response = agent.send("hi")
    assert response.stop_reason == StopReason.TOOL_RULE  # Letta's "tool_rule"
    assert response.steps == 1


def test_run_first_rule_offers_only_that_function_first(make_ruled):
    agent, llm = make_ruled(
        [
            call("send_message", message="too early"),
            call("conversation_search", query="hi", request_heartbeat=True),
            call("send_message", message="done"),
        ],
        [{"type": "run_first", "tool_name": "conversation_search"}],
    )
    response = agent.send("hi")
    first = results(response)[0]
    assert first["status"] == "Failed"
    assert "do not allow send_message" in first["message"]
    assert "conversation_search" in first["message"]
    assert offered(llm)[0] == {"conversation_search"}
    assert offered(llm)[1] == {"conversation_search"}  # still nothing has run
    assert "send_message" in offered(llm)[2]
    assert response.sent[-1] == "done"


def test_child_rule_constrains_the_next_call(make_ruled):
    agent, llm = make_ruled(
        [
            call("conversation_search", query="hi", request_heartbeat=True),
            call("archival_memory_search", query="hi"),
            call("send_message", message="done"),
        ],
        [
            {
                "type": "constrain_child_tools",
                "tool_name": "conversation_search",
                "children": ["send_message"],
            }
        ],
    )
    response = agent.send("hi")
    assert offered(llm)[1] == {"send_message"}
    assert results(response)[1]["status"] == "Failed"
    assert response.sent == ["done"]


def test_child_rule_continues_the_chain_without_a_heartbeat(make_ruled):
    agent, llm = make_ruled(
        [call("conversation_search", query="hi"), call("send_message", message="done")],
        [
            {
                "type": "constrain_child_tools",
                "tool_name": "conversation_search",
                "children": ["send_message"],
            }
        ],
    )
    assert agent.send("hi").steps == 2


@pytest.mark.parametrize(("minutes", "next_tool"), [(5, "send_message"), (7, "core_memory_append")])
def test_conditional_rule_picks_the_next_tool_by_result(make_ruled, minutes, next_tool):
    agent, llm = make_ruled(
        [
            call("pause_heartbeats", minutes=minutes),
            call(next_tool, message="m", label="human", content="c"),
        ],
        [
            {
                "type": "conditional",
                "tool_name": "pause_heartbeats",
                "child_output_mapping": {"Timed heartbeats paused for 5 minutes.": "send_message"},
                "default_child": "core_memory_append",
            }
        ],
    )
    response = agent.send("hi")
    assert offered(llm)[1] == {next_tool}
    assert response.steps == 2
    assert all(r["status"] == "OK" for r in results(response))


def test_max_count_per_step_rule_refuses_the_extra_call(make_ruled):
    search = call("conversation_search", query="hi", request_heartbeat=True)
    agent, llm = make_ruled(
        [
            search,
            search,
            call("send_message", message="done"),
            search,
            call("send_message", message="again"),
        ],
        [{"type": "max_count_per_step", "tool_name": "conversation_search", "max_count_limit": 1}],
    )
    response = agent.send("hi")
    assert "conversation_search" in offered(llm)[0]
    assert "conversation_search" not in offered(llm)[1]
    assert [r["status"] for r in results(response)] == ["OK", "Failed", "OK"]
    # The count is per event: the next message may call it again.
    assert [r["status"] for r in results(agent.send("more"))] == ["OK", "OK"]


def test_required_before_exit_rule_keeps_the_chain_going(make_ruled):
    agent, llm = make_ruled(
        [
            call("send_message", message="bye"),
            call("archival_memory_insert", content="the talk"),
        ],
        [{"type": "required_before_exit", "tool_name": "archival_memory_insert"}],
    )
    response = agent.send("hi")
    assert response.steps == 2
    heartbeat = [m for m in response.messages if m.role == "user"][1]
    assert "archival_memory_insert" in heartbeat.text
    assert response.stop_reason == StopReason.END_TURN


def test_continue_rule_chains_after_send_message(make_ruled):
    agent, llm = make_ruled(
        [
            call("send_message", message="one"),
            call("core_memory_append", label="human", content="c"),
        ],
        [{"type": "continue_loop", "tool_name": "send_message"}],
    )
    response = agent.send("hi")
    assert response.sent == ["one"]
    assert response.steps == 2


def test_parent_rule_hides_children_until_the_parent_runs(make_ruled):
    agent, llm = make_ruled(
        [
            call("conversation_search", query="x", request_heartbeat=True),
            call("archival_memory_search", query="x"),
        ],
        [
            {
                "type": "parent_last_tool",
                "tool_name": "conversation_search",
                "children": ["archival_memory_search"],
            }
        ],
    )
    agent.send("hi")
    assert "archival_memory_search" not in offered(llm)[0]
    assert offered(llm)[1] == {"archival_memory_search"}


def test_rules_are_stored_with_the_agent(make_ruled, tmp_path):
    rules = [{"type": "exit_loop", "tool_name": "send_message"}]
    agent, _ = make_ruled([], rules)
    stored = agent.store.get_agent(agent.id)
    assert [r.model_dump() for r in stored.tool_rules] == rules


def test_a_rule_naming_a_missing_function_is_refused(make_ruled):
    with pytest.raises(ToolRuleError, match="'nope'"):
        make_ruled([], [{"type": "run_first", "tool_name": "nope"}])


def test_a_send_message_the_rules_refuse_is_not_a_reply(make_ruled):
    agent, _ = make_ruled(
        [
            call("send_message", message="too early"),
            call("conversation_search", query="hi", request_heartbeat=True),
            call("send_message", message="done"),
        ],
        [{"type": "run_first", "tool_name": "conversation_search"}],
    )
    response = agent.send("hi")
    assert response.sent == ["done"]
    assert response.text == "done"
