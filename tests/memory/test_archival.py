"""Archival storage: insert, similarity search with pagination, list and delete."""

from __future__ import annotations

import json

import pytest

from memgpt.memory import archival, recall, relevance
from memgpt.memory.recall import SearchError
from memgpt.store.fusion import fuse
from memgpt.store.sql.archival import CANDIDATE_DEPTH


@pytest.fixture
def agent(make_agent):
    agent, _ = make_agent([])
    return agent


def test_search_finds_the_closest_passage_first(agent):
    for text in [
        "The capital of France is Paris",
        "Bananas are yellow",
        "Paris has the Louvre museum",
    ]:
        archival.insert(agent.store, agent.embedder, agent.id, text)
    result = archival.search(agent.store, agent.embedder, agent.id, "capital of France")
    rows = json.loads(result.split("\n", 1)[1])
    assert rows[0]["text"] == "The capital of France is Paris"
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    # Sharing no word, and so no hashed feature, a passage is no nearer than gibberish.
    assert "Bananas are yellow" not in {r["text"] for r in rows}


def test_pagination_and_delete(agent):
    for i in range(7):
        archival.insert(agent.store, agent.embedder, agent.id, f"fact {i} about owls")
    first = json.loads(
        archival.search(agent.store, agent.embedder, agent.id, "owls").split("\n", 1)[1]
    )
    second = json.loads(
        archival.search(agent.store, agent.embedder, agent.id, "owls", 1).split("\n", 1)[1]
    )
    assert len(first) == 5 and len(second) == 2
    assert {r["text"] for r in first}.isdisjoint(r["text"] for r in second)
    passages = agent.store.list_passages(agent.id)
    assert agent.store.delete_passage(agent.id, passages[0].id)
    assert not agent.store.delete_passage(agent.id, passages[0].id)
    assert agent.store.count_passages(agent.id) == 6


def test_empty_content_is_refused(agent):
    with pytest.raises(SearchError, match="empty"):
        archival.insert(agent.store, agent.embedder, agent.id, "   ")


# hybrid search, filters, sources


class ConceptEmbedder:
    """Words map to concepts; synonyms share one, so 'feline' finds 'cat' with no shared word."""

    dim = 8
    concepts = {"cat": 0, "feline": 0, "kitten": 0, "dog": 1, "zebra": 2, "car": 3, "engine": 3}

    def embed(self, texts):
        import numpy as np

        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().replace(".", " ").split():
                if word in self.concepts:
                    out[row, self.concepts[word]] += 1
            out[row, 7] += 0.1  # every text gets a little of one shared axis: never a zero vector
            out[row] /= np.linalg.norm(out[row])
        return out


@pytest.fixture
def concept_agent(make_agent):
    agent, _ = make_agent([])
    agent.embedder = ConceptEmbedder()
    for text in [
        "The cat sleeps on the mat.",
        "Zebra manual for model ZX81.",
        "The dog barks.",
        "Car engine repair.",
    ]:
        archival.insert(agent.store, agent.embedder, agent.id, text)
    return agent


def test_keyword_only_and_meaning_only_matches_are_both_found(concept_agent):
    a = concept_agent
    hits, total = a.store.search_archival(
        a.id, "feline ZX81", a.embedder.embed(["feline ZX81"])[0], 5
    )
    texts = [h.passage.text for h in hits]
    cat = hits[texts.index("The cat sleeps on the mat.")]
    zx = hits[texts.index("Zebra manual for model ZX81.")]
    assert cat.vector_rank == 1 and cat.text_rank is None  # meaning only
    assert zx.text_rank == 1 and zx.bm25 > 0  # keyword only (and weakly by vector)
    vector = sorted((h for h in hits if h.vector_rank), key=lambda h: h.vector_rank)
    text = sorted((h for h in hits if h.text_rank), key=lambda h: h.text_rank)
    fused = dict(fuse([h.passage.id for h in vector], [h.passage.id for h in text]))
    for h in hits:  # the score is the fusion of the two rankings
        assert h.score == pytest.approx(fused[h.passage.id])
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert total == 4


def test_a_passage_in_both_rankings_beats_one_in_either(concept_agent):
    a = concept_agent
    # Short enough to lead the keyword ranking on every backend: the zebra and dog passages
    # tie on similarity, so a passage second in both rankings could lose to the zebra one
    # (first by keyword) on how a backend orders that tie.
    archival.insert(a.store, a.embedder, a.id, "Kitten ZX81, a cat.")
    hits, _ = a.store.search_archival(a.id, "feline ZX81", a.embedder.embed(["feline ZX81"])[0], 5)
    assert hits[0].passage.text == "Kitten ZX81, a cat."
    assert (hits[0].vector_rank, hits[0].text_rank) == (2, 1)


def test_filters_by_source_tag_and_time(concept_agent):
    a = concept_agent
    from datetime import timedelta

    from memgpt.schemas import utcnow
    from memgpt.store.base import ArchivalFilter

    tagged = archival.insert(
        a.store, a.embedder, a.id, "A cat in a box.", source="diary", tags=["pets"]
    )
    q = a.embedder.embed(["cat"])[0]
    by_tag, _ = a.store.search_archival(a.id, "cat", q, 5, filters=ArchivalFilter(tags=["pets"]))
    by_source, _ = a.store.search_archival(
        a.id, "cat", q, 5, filters=ArchivalFilter(sources=["diary"])
    )
    assert [h.passage.id for h in by_tag] == [h.passage.id for h in by_source] == [tagged.id]
    future = ArchivalFilter(start=utcnow() + timedelta(hours=1))
    assert a.store.search_archival(a.id, "cat", q, 5, filters=future) == ([], 0)
    past = ArchivalFilter(end=utcnow())
    assert len(a.store.search_archival(a.id, "cat", q, 10, filters=past)[0]) == 5


def test_hybrid_pages_are_disjoint_and_cover_everything(agent):
    for i in range(12):
        archival.insert(agent.store, agent.embedder, agent.id, f"note {i} about owls and forests")
    q = agent.embedder.embed(["owls"])[0]
    seen = []
    for page in range(3):
        hits, total = agent.store.search_archival(agent.id, "owls", q, 5, page * 5)
        seen += [h.passage.id for h in hits]
    assert total == 12 and len(seen) == len(set(seen)) == 12


def test_deleted_passages_are_never_returned(agent):
    for i in range(30):
        archival.insert(agent.store, agent.embedder, agent.id, f"memo {i} on salmon rivers")
    agent.store.flush_index()  # in the graph, not just the tail
    victim = agent.store.list_passages(agent.id)[3]
    assert agent.store.delete_passage(agent.id, victim.id)
    q = agent.embedder.embed([victim.text])[0]
    for search in (
        lambda: [
            h.passage.id for h in agent.store.search_archival(agent.id, victim.text, q, 50)[0]
        ],
        lambda: [p.id for p, _ in agent.store.search_passages(agent.id, q, 50)],
    ):
        assert victim.id not in search()


def test_attached_source_is_searched_and_shows_file_and_page(client, make_agent, tmp_path):
    from tests.ingest.docs import good_folder

    agent, _ = make_agent([])
    client.load(
        "docs",
        good_folder(tmp_path / "docs"),
        embedding=agent.state.embedding,
        embedder=agent.embedder,
    )
    result = archival.search(agent.store, agent.embedder, agent.id, "rivers")
    assert result == "No results found."
    agent.attach_source("docs")
    assert [s.name for s in agent.sources()] == ["docs"]
    rows = json.loads(
        archival.search(agent.store, agent.embedder, agent.id, "rivers").split("\n", 1)[1]
    )
    top = rows[0]
    assert top["source"] == "docs" and top["file"].endswith("report.pdf") and top["page"] == 1
    assert agent.store.count_passages(agent.id) > 0
    agent.detach_source("docs")
    assert archival.search(agent.store, agent.embedder, agent.id, "rivers") == "No results found."


def test_attaching_a_source_made_with_another_model_is_refused(client, make_agent):
    from memgpt.memory.archival import SourceError
    from memgpt.schemas import EmbeddingConfig

    agent, _ = make_agent([])
    client.create_source(
        "other", embedding=EmbeddingConfig(provider="openai", model="text-embedding-3-small")
    )
    with pytest.raises(SourceError, match="embedded with openai"):
        agent.attach_source("other")
    with pytest.raises(SourceError, match="no source named"):
        agent.attach_source("missing")


def test_keyword_ranking_respects_scope_beyond_the_first_fetch(make_agent, monkeypatch):
    """Other agents' passages never take the agent's places in the keyword ranking."""
    from memgpt.store.sql import archival as sql_archival

    monkeypatch.setattr(sql_archival, "CANDIDATE_DEPTH", 2)
    mine, _ = make_agent([], name="mine")
    other, _ = make_agent([], name="other")
    for i in range(8):
        archival.insert(other.store, other.embedder, other.id, f"walrus walrus walrus {i}")
    archival.insert(mine.store, mine.embedder, mine.id, "a walrus at the zoo")
    archival.insert(mine.store, mine.embedder, mine.id, "one walrus swims far away today")
    hits, _ = mine.store.search_archival(mine.id, "walrus", None, 5)
    assert {h.passage.text for h in hits} == {
        "a walrus at the zoo",
        "one walrus swims far away today",
    }
    assert all(h.text_rank is not None for h in hits)


def test_a_querys_total_does_not_depend_on_the_page_asked_for(agent):
    # More matches than either ranking's candidate depth, so a deep page cannot widen it.
    texts = [f"owl sighting number {i} in the old forest" for i in range(CANDIDATE_DEPTH + 30)]
    agent.store.insert_passages(agent.id, [archival.make_passage(agent.embedder, t) for t in texts])
    q = agent.embedder.embed(["owl"])[0]
    totals = {
        agent.store.search_archival(agent.id, "owl", q, 5, offset)[1] for offset in (0, 50, 10**12)
    }
    assert len(totals) == 1
    first = archival.search(agent.store, agent.embedder, agent.id, "owl")
    past = archival.search(agent.store, agent.embedder, agent.id, "owl", 10**12)
    total = totals.pop()
    assert f" of {total} (page 0" in first
    assert f"there are {total} results" in past


def test_paging_embeds_the_query_once(agent):
    calls = []
    embed = agent.embedder.embed

    def counting(texts):
        calls.append(list(texts))
        return embed(texts)

    agent.embedder.embed = counting
    for i in range(12):
        archival.insert(agent.store, agent.embedder, agent.id, f"note {i} about herons")
    calls.clear()
    for page in range(3):
        archival.search(agent.store, agent.embedder, agent.id, "herons nesting", page)
    # and the relevance floor's probes, once per embedder
    assert calls == [["herons nesting"], relevance.probes()]


@pytest.mark.parametrize("search", ["recall", "archival"])
def test_an_empty_query_gets_the_same_sentence_from_recall_and_archival(agent, search):
    with pytest.raises(SearchError, match="query is empty; say what to look for."):
        if search == "recall":
            recall.search_text(agent.store, agent.id, "  ")
        else:
            archival.search(agent.store, agent.embedder, agent.id, "  ")


def test_archival_keyword_ranking_drops_stopwords(agent):
    texts = [
        "what did you do? what did you see? what did you eat?",
        "what did you think of it, and what did you buy there?",
        "we planned the kayak trip for the long weekend in the north of the country",
    ]
    agent.store.insert_passages(agent.id, [archival.make_passage(agent.embedder, t) for t in texts])
    found, _ = agent.store.search_archival(agent.id, "what did you say about the kayak", None, 5)
    assert [h.passage.text for h in found] == [texts[2]]
