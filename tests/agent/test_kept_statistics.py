"""Each event keeps the memory statistics it was first shown with (invariant 7): a step's
prompt is the previous step's prompt, the model's reply, the function's result and the
new event, so a prefix cache reads only those two. The statistics are stored with the
event: this holds for an agent reopened from the store, on both backends."""

from __future__ import annotations

import json

import pytest

from memgpt.client import MemGPT
from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.base import ChatMessage
from memgpt.llm.scripted import ScriptedLLM, call
from memgpt.schemas import EmbeddingConfig
from tests.store.backends import BACKENDS, store_opener

WORDS = ["figs", "herons", "tea"]
CHAIN = {"request_heartbeat": True}


def turn(word: str) -> list:
    """A search, an archival insert (the statistics change), then the reply."""
    return [
        call("conversation_search", "look back", query=word, **CHAIN),
        call("archival_memory_insert", "note it", content=f"They like {word}.", **CHAIN),
        call("send_message", "answer", message=f"Noted: {word}."),
    ]


@pytest.fixture(params=BACKENDS)
def opener(request, tmp_path):
    return store_opener(request.param, tmp_path)


def test_each_step_reads_only_the_result_and_the_new_event(opener):
    script = [reply for word in WORDS for reply in turn(word)]
    llm = ScriptedLLM(script, context_window=32768)  # no memory-pressure alert
    client = MemGPT(store=opener())
    embedding = EmbeddingConfig(provider="hash")
    agent = client.create_agent("sam", llm=llm, embedding=embedding, embedder=HashEmbedder())
    for word in WORDS:
        agent.send(f"Let me tell you about {word}.")
        client.close()  # the next turn's agent reads its queue back from the store
        client = MemGPT(store=opener())
        agent = client.get_agent("sam", llm=llm, embedder=HashEmbedder())

    prompts = [messages for messages, _ in llm.requests]
    assert len(prompts) == len(script)
    for before, after, reply in zip(prompts, prompts[1:], script, strict=False):
        said = ChatMessage(role="assistant", content="", tool_calls=reply.tool_calls)
        assert after[: len(before) + 1] == [*before, said]
        assert [m.role for m in after[len(before) + 1 :]] == ["tool", "user"]

    # Every event shows the statistics of its own step; the newest, the current ones.
    events = [json.loads(m.content) for m in prompts[-1] if m.role == "user"]
    shown = [e["memory_statistics"] for e in events]
    assert len(set(shown)) == len(shown) == len(prompts)
    assert shown[0].startswith("1 messages in recall, 0 passages in archival")

    # They are the model's view only: recall text, search and the API's text stay as sent.
    stored = client.store.list_messages(agent.id, limit=100)
    assert stored[0].text == "Let me tell you about figs."
    assert stored[0].memory_statistics == shown[0]
    assert all(m.memory_statistics is None for m in stored if m.role != "user")
    assert client.store.search_messages(agent.id, "recall", 10)[1] == 0
    client.close()
