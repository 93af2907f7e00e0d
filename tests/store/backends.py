"""The store backends tests run against, and a throwaway PostgreSQL with pgvector: pgserver (PostgreSQL 16 + pgvector from
PyPI), started once per test process in a temp dir and deleted at exit. Each store gets a
schema of its own, so tests never see each other's rows.

Without pgserver or psycopg the PostgreSQL variants are skipped, unless MEMGPT_TEST_PG=1
(set in CI) makes their absence a failure.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from memgpt.bench.common import fresh_schema, throwaway_postgres
from memgpt.store import Store
from memgpt.store.dialects.sqlite import SQLiteStore

REQUIRED = os.environ.get("MEMGPT_TEST_PG") == "1"


@functools.cache
def _server_uri() -> str | None:
    try:
        return throwaway_postgres()  # as root, pgserver runs it as a system user `pgserver`
    except ImportError:
        return None


def server_uri() -> str:
    """The test server's URI, or skip (fail when MEMGPT_TEST_PG=1) when it cannot run."""
    uri = _server_uri()
    if uri is None:
        message = (
            "PostgreSQL tests need `pip install pgserver 'psycopg[binary]' psycopg_pool pgvector`"
        )
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    return uri


def fresh_uri() -> str:
    """A connection string whose tables live in a new, empty schema."""
    return fresh_schema(server_uri())


# Test parameters: SQLite first (the fast default; `-m "not postgres"` runs it alone).
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def store_opener(backend: str, tmp_path: Path) -> Callable[[], Store]:
    """A function opening one new database of `backend` (again on each call, to reopen it)."""
    if backend == "sqlite":
        return lambda: SQLiteStore(tmp_path / "memgpt.db")
    from memgpt.store.dialects.postgres import PostgresStore

    uri = fresh_uri()
    return lambda: PostgresStore(uri)
