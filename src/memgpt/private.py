"""Files only their owner may read: memory, messages and keys live in the database, its
WAL, its indexes and $MEMGPT_HOME, which other users of the machine have no business
reading. Folders are made 0700 (what is inside is then out of reach whatever its own
mode) and the database 0600, from which SQLite gives its WAL and shared-memory files
the same mode. Existing files and folders keep the mode their owner gave them.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """`path` as a folder, made 0700 with any missing parents (existing ones unchanged)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
    return path


def private_file(path: Path) -> Path:
    """`path`, created empty and 0600 unless it exists, in a private folder if new."""
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):  # an existing file keeps its mode
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    return path
