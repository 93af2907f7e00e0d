"""Shared fixtures: a real SQLite store in a temp dir, the deterministic embedder, a scripted model."""

from __future__ import annotations

import os
import shutil

import pytest

from memgpt.client import MemGPT
from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.scripted import ScriptedLLM
from memgpt.schemas import EmbeddingConfig


def pytest_configure(config: pytest.Config) -> None:
    # Registered here, before any test module builds `pytest.mark.postgres` at import.
    config.addinivalue_line(
        "markers", "postgres: runs against a real PostgreSQL with pgvector (pgserver; runs in CI)"
    )


@pytest.fixture(scope="session", autouse=True)
def memgpt_home(tmp_path_factory):
    """Tests never write to the user's ~/.memgpt (the embedder's graph, prompt states)."""
    home = tmp_path_factory.mktemp("memgpt-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEMGPT_HOME", str(home))
        yield home


@pytest.fixture
def bwrap():
    """User tools run under bubblewrap; CI installs it, so there its absence fails."""
    if shutil.which("bwrap") is None:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(
            "User tool tests need bubblewrap (apt-get install bubblewrap)."
        )


@pytest.fixture
def client(tmp_path):
    c = MemGPT(tmp_path / "memgpt.db")
    yield c
    c.close()


@pytest.fixture
def make_agent(client):
    """make_agent(script_or_policy, context_window=8192, **create_kwargs) -> (agent, llm)."""

    def make(script, context_window: int = 8192, name: str = "sam", **kwargs):
        llm = ScriptedLLM(script, context_window=context_window)
        agent = client.create_agent(
            name,
            llm=llm,
            embedding=EmbeddingConfig(provider="hash"),
            embedder=HashEmbedder(),
            **kwargs,
        )
        return agent, llm

    return make
