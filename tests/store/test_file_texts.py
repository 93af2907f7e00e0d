"""The text of loaded files, on every backend: stored with its file in one transaction,
read by the agents whose attached sources hold it, the newest text of a name winning,
and gone with its source."""

from __future__ import annotations

from memgpt.schemas import AgentState, Block, EmbeddingConfig, Passage
from memgpt.store.base import Source, SourceFile


def _agent(store) -> AgentState:
    state = AgentState(name="sam", system="s", blocks=[Block(label="human")])
    store.create_agent(state)
    return state


def _file(source: Source, name: str, text: str, sha: str) -> SourceFile:
    return SourceFile(
        source_id=source.id, path=f"/tmp/x/{name}", sha256=sha, status="done", name=name, text=text
    )


def test_file_text_is_read_through_attached_sources_only(store):
    state = _agent(store)
    docs = Source(name="docs", embedding=EmbeddingConfig(provider="hash"))
    other = Source(name="other", embedding=EmbeddingConfig(provider="hash"))
    store.create_source(docs)
    store.create_source(other)
    passage = Passage(text="alpha", embedding=[0.1] * 256, source="docs", chunk_hash="h1")
    store.add_file(_file(docs, "a.txt", "alpha\nbeta", "s1"), [passage])
    store.add_file(_file(docs, "sub/b.md", "gamma", "s2"), [])
    store.add_file(_file(other, "c.txt", "delta", "s3"), [])
    failed = SourceFile(source_id=docs.id, path="/tmp/x/bad.pdf", sha256=None, status="failed")
    store.add_file(failed, [])
    assert store.agent_files(state.id) == []
    store.attach_source(state.id, docs.id)
    assert [(f.name, f.text) for f in store.agent_files(state.id)] == [
        ("a.txt", "alpha\nbeta"),
        ("sub/b.md", "gamma"),
    ]
    assert [f.text for f in store.agent_files(state.id, "sub/b.md")] == ["gamma"]
    assert store.agent_files(state.id, "c.txt") == []
    # A file loaded again under the same name with new content: its newest text is read.
    store.add_file(_file(docs, "a.txt", "alpha two", "s4"), [])
    assert [f.text for f in store.agent_files(state.id, "a.txt")] == ["alpha two"]
    store.delete_source(docs.id)
    assert store.agent_files(state.id) == []


def test_file_text_survives_reopening(open_store):
    store = open_store()
    state = _agent(store)
    docs = Source(name="docs", embedding=EmbeddingConfig(provider="hash"))
    store.create_source(docs)
    store.add_file(_file(docs, "a.txt", "kept", "s1"), [])
    store.attach_source(state.id, docs.id)
    store.close()
    assert [f.text for f in open_store().agent_files(state.id)] == ["kept"]
