"""What the server's services raise for the routes to answer with a status (app.py)."""

from __future__ import annotations

from typing import Any

from memgpt.errors import MemGPTError


class NotFoundError(MemGPTError):
    """No such resource for this caller (missing, or another organization's)."""


class ConflictError(MemGPTError):
    """The request clashes with what exists (a duplicate name)."""


class ModelCallError(MemGPTError):
    """A model call failed and ended the turn; `result` holds what the turn committed."""

    def __init__(self, message: str, result: dict[str, Any]):
        super().__init__(message)
        self.result = result
