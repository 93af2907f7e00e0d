"""The seeded generator's paraphrases really are paraphrases: no shared content word."""

from __future__ import annotations

import sqlite3

import pytest

from memgpt.bench import common, synthetic


def _index(texts: list[str]) -> sqlite3.Connection:
    """The texts under recall search's own tokenizer, so stems count as shared words."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(body, tokenize = 'porter unicode61')")
    db.executemany("INSERT INTO t (body) VALUES (?)", [(t,) for t in texts])
    return db


def _shared(db: sqlite3.Connection, question: str) -> list[str]:
    return [
        w
        for w in common.content_words(question).split()
        if db.execute("SELECT 1 FROM t WHERE t MATCH ?", (f'"{w}"',)).fetchone()
    ]


def test_conversation_paraphrases_share_no_word_with_any_message():
    texts = [s.format(a=a) for s, _, answers in synthetic.FACTS for a in answers]
    db = _index(texts + synthetic.USER_FILLER + synthetic.AGENT_FILLER)
    assert set(synthetic.PARAPHRASES) == {question for _, question, _ in synthetic.FACTS}
    for paraphrase in synthetic.PARAPHRASES.values():
        assert _shared(db, paraphrase) == [], paraphrase


@pytest.mark.parametrize("attribute", list(synthetic.DOC_QUESTIONS))
def test_document_paraphrases_share_only_the_name(attribute):
    docs = synthetic.documents(0, 200)
    db = _index([d.text.replace(d.name, "") for d in docs])
    assert _shared(db, synthetic.DOC_PARAPHRASES[attribute].format(name="")) == []


def test_each_planted_fact_has_both_kinds_of_question():
    c = synthetic.conversation(3, sessions=4, turns=5, facts=5)
    assert [q.kind for q in c.questions] == ["lexical"] * 5
    assert [q.kind for q in c.paraphrases] == ["paraphrase"] * 5
    for lexical, paraphrase in zip(c.questions, c.paraphrases, strict=True):
        assert paraphrase.text == synthetic.PARAPHRASES[lexical.text]
        assert (paraphrase.answer, paraphrase.evidence) == (lexical.answer, lexical.evidence)
