"""The sleep-time memory agent: it shares its main agent's blocks and tidies them from
the main agent's recent conversation, in the background, while the main agent goes on."""

from __future__ import annotations

import json
import threading

import pytest

from memgpt.agent import sleeptime
from memgpt.client import MemGPT
from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.scripted import ScriptedLLM, call
from tests.store.backends import BACKENDS, store_opener

TURNS = 12


@pytest.fixture(params=BACKENDS)
def client(request, tmp_path):
    """Both backends: the two agents' edits meet in the block's row lock."""
    client = MemGPT(store=store_opener(request.param, tmp_path)())
    yield client
    client.close()


def _alert(messages) -> str:
    packed = [json.loads(m.content) for m in messages if m.role == "user"]
    return next(p["text"] for p in reversed(packed) if p["type"] == "system_alert")


def tidy(messages, functions):
    """Files each fact the user gave into the human block, one line each, then stops."""
    facts = [line[6:] for line in _alert(messages).splitlines() if line.startswith("user: ")]
    return call("core_memory_append", "Keeping what the user told.", label="human",
                content="\n".join(facts))  # fmt: skip


def test_a_sleep_time_agent_edits_a_shared_block_while_the_main_agent_answers(client, make_agent):
    main, _ = make_agent(lambda m, f: call("send_message", message="noted"))
    companion = client.create_sleeptime_agent(main, llm=ScriptedLLM(tidy), embedder=HashEmbedder())
    assert client.store.agent_blocks(companion.id) == client.store.agent_blocks(main.id)

    done = threading.Event()
    runs = []

    def background() -> None:
        while not done.is_set():
            if response := sleeptime.reorganize(companion):
                runs.append(response)

    worker = threading.Thread(target=background)
    worker.start()
    for i in range(TURNS):
        assert main.send(f"fact {i}").messages[-2].tool_calls[0].name == "send_message"
    done.set()
    worker.join()
    sleeptime.reorganize(companion)  # whatever the last run had not read yet

    store = client.store
    history = store.list_messages(main.id, limit=1000)
    assert [m.seq for m in history] == list(range(1, len(history) + 1))
    assert [m.text for m in history if m.event == "user_message"] == [
        f"fact {i}" for i in range(TURNS)
    ]  # no step lost or doubled
    # one step for each event (the user's, and a memory-pressure alert as the block grows)
    assert sum(m.role == "assistant" for m in history) == sum(m.role == "user" for m in history)
    human = store.get_agent(main.id).block("human")
    lines = human.value.splitlines()
    assert all(lines.count(f"fact {i}") == 1 for i in range(TURNS))  # each read once
    edits = store.block_history(human.id)
    assert edits and {e.agent_id for e in edits} == {companion.id}
    assert sleeptime.reorganize(companion) is None  # nothing new


def test_a_sleep_time_agent_files_into_its_main_agents_archival_storage(client, make_agent):
    main, _ = make_agent(lambda m, f: call("send_message", message="noted"))
    companion = client.create_sleeptime_agent(
        main,
        llm=ScriptedLLM([call("archival_memory_insert", content="Ana's flat is on floor 3")]),
        embedder=HashEmbedder(),
    )
    main.send("my flat is on floor 3")
    sleeptime.reorganize(companion)
    assert [p.text for p in client.store.list_passages(main.id)] == ["Ana's flat is on floor 3"]
    assert client.store.count_passages(companion.id) == 0


def test_deleting_the_main_agent_deletes_its_sleep_time_agent(client, make_agent):
    main, _ = make_agent([])
    companion = client.create_sleeptime_agent(main, llm=ScriptedLLM([]), embedder=HashEmbedder())
    blocks = client.store.agent_blocks(main.id)
    client.delete_agent(main.id)
    assert client.store.get_agent(companion.id) is None
    assert all(client.store.get_block(b.id) is None for b in blocks)


def test_a_long_conversation_reaches_the_sleep_time_agent_cut_to_fit():
    from memgpt.agent import events

    said = [events.user_message(f"{i} " + "word " * 200) for i in range(40)]
    text = sleeptime.transcript(said)
    assert len(text) <= sleeptime.TRANSCRIPT_CHARS + 100
    assert text.splitlines()[-1].startswith("user: 39 ")  # the newest kept
