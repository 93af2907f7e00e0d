"""What memgpt writes is its owner's alone: $MEMGPT_HOME and the folders beside the
database 0700, the database and its WAL 0600, whatever the process's umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from memgpt import config
from memgpt.client import MemGPT
from memgpt.schemas import EmbeddingConfig

POLICY = "scripted/tests.server.policies:agent"


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_home_database_wal_and_indexes_are_private(tmp_path, monkeypatch):
    home = tmp_path / "home" / ".memgpt"
    monkeypatch.setenv("MEMGPT_HOME", str(home))
    old = os.umask(0o022)  # the usual default, which makes files world-readable
    try:
        client = MemGPT()
        agent = client.create_agent(
            "private", model=POLICY, embedding=EmbeddingConfig(provider="hash")
        )
        agent.send("archive a secret")
        agent.send("search secret")  # the vector index
        client.store.search_messages(agent.id, "secret", limit=5)  # the full-text index
        config.save_settings(config.load_settings())
        modes = {p.relative_to(home): (p.is_dir(), _mode(p)) for p in home.rglob("*")}
        client.close()
    finally:
        os.umask(old)
    assert _mode(home) == _mode(home.parent) == 0o700
    assert {Path("memgpt.db.vectors"), Path("memgpt.db.text")} <= set(modes)
    for path, (is_dir, mode) in modes.items():
        if is_dir:  # what is inside is out of others' reach whatever its own mode
            assert mode == 0o700, path
    for name in ("memgpt.db", "memgpt.db-wal"):
        assert modes[Path(name)] == (False, 0o600), name
