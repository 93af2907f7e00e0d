"""Store tests run on every backend: `store` is a fresh SQLite or PostgreSQL store."""

from __future__ import annotations

import pytest

from tests.store.backends import BACKENDS, store_opener


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def open_store(backend, tmp_path):
    """Opens the test's database (again on each call); every store opened is closed after."""
    opener = store_opener(backend, tmp_path)
    opened = []

    def open_():
        opened.append(opener())
        return opened[-1]

    yield open_
    for s in opened:
        s.close()


@pytest.fixture
def store(open_store):
    return open_store()
