"""Memory tests run on every store backend: `client` (and so `make_agent`) is parametrized."""

from __future__ import annotations

import pytest

from memgpt.client import MemGPT
from tests.store.backends import BACKENDS, store_opener


@pytest.fixture(params=BACKENDS)
def client(request, tmp_path):
    c = MemGPT(store=store_opener(request.param, tmp_path)())
    yield c
    c.close()
