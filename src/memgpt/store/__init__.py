"""Persistence behind one interface. SQLite is the embedded default; PostgreSQL serves
many processes. Both are `Store`: one implementation of the store's logic (`sql/`), with
what differs behind the dialect seam (`sql/seam.py`, `dialects/`).

Every write made inside `transaction()` commits together or not at all: the agent
loop wraps each step in one, which is what makes a step atomic (DESIGN invariant 2).
"""

from memgpt.store.sql.store import SQLStore as Store

__all__ = ["Store"]
