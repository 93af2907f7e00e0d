"""Hostile input over HTTP: schemathesis fuzzes every operation of the server's OpenAPI
spec, on SQLite and PostgreSQL, and no request gets a 5xx."""

from __future__ import annotations

import pytest

from memgpt.bench import reliability_fuzz
from tests.store.backends import BACKENDS, store_opener


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_operation_answers_bad_input_with_a_5xx(backend, tmp_path):
    store = None if backend == "sqlite" else store_opener(backend, tmp_path)()
    figures = reliability_fuzz.run(3, 7, store=store)
    assert figures["violations"] == 0, figures["failures"]
    assert figures["operations"] >= 50
    # Both halves ran: handlers behind real ids (2xx) and refusals of bad input (4xx).
    assert figures["statuses"]["2xx"] > 0 and figures["statuses"]["4xx"] > 0
