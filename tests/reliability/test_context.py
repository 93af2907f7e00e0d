"""Invariant 1, property-based: no request (agent or summarizer) ever overflows the window."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, given, settings

from memgpt.bench.reliability_context import Case, cases, check_case


@settings(
    max_examples=25,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(case=cases())
def test_every_request_fits_whatever_the_sizes(case):
    _, problems = check_case(case)
    assert problems == []


def test_instructions_too_large_for_the_window_are_refused_at_creation():
    case = Case(seed=1, window=1024, max_output_tokens=128, system_words=2000, block_chars=0,
                user_words=[5], reply_words=5, summary_words=5)  # fmt: skip
    outcomes, problems = check_case(case)
    assert problems == [] and outcomes == {"refused_at_creation": 1}


def test_a_summarizer_that_answers_at_length_is_cut_to_its_share():
    case = Case(seed=2, window=6000, max_output_tokens=1024, system_words=0, block_chars=100,
                user_words=[400] * 8, reply_words=300, summary_words=20_000)  # fmt: skip
    outcomes, problems = check_case(case)
    assert problems == []
    assert "refused_at_creation" not in outcomes
