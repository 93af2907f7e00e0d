"""Where memgpt keeps its files, and the defaults a user can override."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """$MEMGPT_HOME, else ~/.memgpt: the database, config and cached models live here."""
    return Path(os.environ.get("MEMGPT_HOME") or Path.home() / ".memgpt").expanduser()


def database_path() -> Path:
    return home() / "memgpt.db"
