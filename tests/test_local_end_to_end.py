"""The embedded default, for real: SmolLM2 through llama.cpp and MiniLM embeddings, offline.

The model is tiny and chooses functions poorly, so this checks the plumbing, not
wisdom: every step is a valid call or a handled failure, and everything persists.
"""

from __future__ import annotations

import pytest

from memgpt import config
from memgpt.client import MemGPT
from memgpt.schemas import StopReason

pytest.importorskip("llama_cpp", reason="the local extra is installed by scripts/setup")


@pytest.mark.slow
def test_a_turn_on_the_embedded_model_persists(tmp_path):
    client = MemGPT(tmp_path / "memgpt.db")
    agent = client.create_agent("local", model="local")
    assert agent.llm.config.provider == "local"
    agent.state.max_chained_steps = 3
    client.store.save_agent(agent.state)

    response = agent.send("Hi! My name is Ana and I love hiking. Please remember that.")
    assert response.stop_reason in (
        StopReason.END_TURN,
        StopReason.MAX_STEPS,
        StopReason.INVALID_FUNCTION_CALL,
    )
    assert 1 <= response.steps <= 3
    calls = [c for m in response.messages for c in m.tool_calls]
    # the grammar admits only real function names
    assert calls and all(c.name in agent.functions for c in calls)
    client.close()

    reopened = MemGPT(tmp_path / "memgpt.db").get_agent("local")
    stored = reopened.store.list_messages(reopened.id, limit=100)
    assert [m.id for m in stored] == [m.id for m in response.messages]
    assert reopened.memory == agent.memory


@pytest.mark.slow
def test_tool_rules_reach_the_local_grammar(tmp_path):
    from memgpt.tools.rules import RunFirstRule

    client = MemGPT(tmp_path / "memgpt.db")
    rule = RunFirstRule(tool_name="archival_memory_search")
    # Greedy: at the default temperature the sampled query now and then runs past the
    # output budget, and a call cut off there is no call (the loop retries it; one step
    # here cannot).
    greedy = config.model_config("local").model_copy(update={"temperature": 0.0})
    agent = client.create_agent("local", model=greedy, tool_rules=[rule])
    agent.state.max_chained_steps = 1
    client.store.save_agent(agent.state)
    response = agent.send("Hi! Please just say hello back.")
    # The model was offered one function, so the grammar could produce no other.
    assert [c.name for m in response.messages for c in m.tool_calls] == ["archival_memory_search"]
    client.close()
