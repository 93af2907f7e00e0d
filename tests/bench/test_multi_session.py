"""The long conversations' questions are labelled as their kinds promise."""

from __future__ import annotations

import pytest

from memgpt.bench import multi_session


@pytest.fixture(scope="module")
def history():
    return multi_session.history(7, sessions=6, turns=15)


def _said(history, turn_id):
    return next(t for t in history.turns if t.id == turn_id)


def test_same_seed_same_conversation():
    one, two = multi_session.history(3), multi_session.history(3)
    assert [t.text for t in one.turns] == [t.text for t in two.turns]
    assert [(q.text, q.answer) for q in one.questions] == [
        (q.text, q.answer) for q in two.questions
    ]
    assert len(one.turns) == 400 and {q.kind for q in one.questions} == set(multi_session.KINDS)


def test_an_update_is_evidenced_by_its_last_statement_only(history):
    updates = [q for q in history.questions if q.kind == "update"]
    assert len(updates) == 3
    for q in updates:
        (evidence,) = q.evidence
        first, later, _, values = next(u for u in multi_session.UPDATES if u[2] == q.text)
        assert q.answer in _said(history, evidence).text
        # The value it replaced was stated earlier, in the first statement's words.
        earlier = [t for t in history.turns if t.time < _said(history, evidence).time]
        old = [
            v for v in values if v != q.answer and first.format(a=v) in {t.text for t in earlier}
        ]
        assert len(old) == 1


def test_a_two_hop_question_needs_both_turns(history):
    for q in (q for q in history.questions if q.kind == "multi_hop"):
        bridge, about = (_said(history, e) for e in q.evidence)
        assert bridge.time < about.time
        assert q.answer not in bridge.text and q.answer in about.text
        name = about.text.split()[0]
        assert name in bridge.text and name not in q.text


def test_a_when_question_is_answered_by_its_turns_date(history):
    events = [q for q in history.questions if q.kind == "temporal"]
    assert len(events) == 3
    for q in events:
        (evidence,) = q.evidence
        assert q.answer == _said(history, evidence).time.date().isoformat()


def test_a_conversation_too_short_for_its_facts_says_so():
    with pytest.raises(SystemExit, match="too short"):
        multi_session.history(0, sessions=1, turns=5)


def test_a_code_is_said_once_and_small_talk_holds_other_codes(history):
    codes = [q for q in history.questions if q.kind == "exact"]
    assert len(codes) == 3
    for q in codes:
        (evidence,) = q.evidence
        assert q.answer in q.text
        assert [t.id for t in history.turns if q.answer in t.text] == [evidence]
    coded = [t for t in history.turns if t.text.split()[0] in {"Order", "Invoice", "Seat"}]
    assert coded, "other codes in small talk"
