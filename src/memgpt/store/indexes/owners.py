"""Approximate vector search for archival storage, with SQLite as the source of truth.

Each owner of passages (an agent's own inserts, or one document source) has its
own HNSW index file in `<db>.vectors/`, so an agent searches exactly the owners
in its scope and deleting an agent or a source drops one file.

An index covers every passage of its owner with `pk <= max_pk` (the watermark,
saved with the index). Rows above the watermark are the *tail*: searched
exactly until there are more than `TAIL_MAX` of them; then they are added to the
graph and the index is saved again. The tail's vectors are kept in memory, each read
from SQLite once (a row's pk is never reused and its vector never changes), so a
search reads only the rows added since the last one: with a full tail (2,000 384-d
vectors above a graph of 5,000) a search took 22 ms of CPU reading it again, 6 ms
now. Inserting passages therefore costs only the SQLite write (HNSW insertion runs
at about 1-2k vectors/s on 2 cores, far below the store's insert rate), and a crash
loses nothing: on reopening, the rows above the saved watermark are simply tail again.

Memory stays bounded: a saved index is memory-mapped read-only (`view`), so a
search touches only the graph pages it visits. The graph is read into RAM only
while new vectors are added to it, and mapped again after the save.

Deleted passages are remembered as tombstones and removed from the graph at the
next save; until then the store's join on `passages` drops them from results.
An index is rebuilt from SQLite when its file or watermark is missing or
unreadable, when it covers rows the database does not have, or when more than
`DEAD_FRACTION` of its keys have been deleted behind its back.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from memgpt.private import private_dir
from memgpt.store.sql.seam import Owner

if TYPE_CHECKING:
    import numpy as np

    from memgpt.store.indexes.hnsw import VectorIndex

TAIL_MAX = 2000
DEAD_FRACTION = 0.1
_BATCH = 8192


def _files(directory: Path, owner_id: str) -> tuple[Path, Path]:
    """An owner's graph and its metadata (watermark, count, dimensions, tombstones)."""
    return directory / f"{owner_id}.usearch", directory / f"{owner_id}.json"


def _valid(vectors: np.ndarray) -> np.ndarray:
    """Rows usable for cosine similarity: finite and non-zero."""
    # numpy and the graphs load on first use, here and below: a store opens without them,
    # so the server and `memgpt run` start sooner.
    import numpy as np

    norms = np.linalg.norm(vectors, axis=1)
    return np.isfinite(norms) & (norms > 0)


class OwnerIndex:
    def __init__(
        self,
        directory: Path,
        owner: Owner,
        conn: Callable[[], sqlite3.Connection],
        table: str = "passages",
    ):
        """`table`: where the vectors are, `passages` or recall's `message_vectors`: both
        have a never-reused `pk`, the owner's column and `embedding`."""
        column, owner_id = owner
        if column not in ("agent_id", "source_id"):
            raise ValueError(f"unknown passage owner column {column!r}")
        if table not in ("passages", "message_vectors"):
            raise ValueError(f"unknown vector table {table!r}")
        self._table = table
        self.path, self.meta_path = _files(directory, owner_id)
        self._where = f"{column} = ?"
        self._owner_id = owner_id
        self._conn = conn
        self.index: VectorIndex | None = None
        self.dim: int | None = None
        self.tombstones: set[int] = set()
        self._set_watermark(0)  # nothing covered yet; opening sets the saved one
        self.rebuilt = False  # whether opening had to rebuild (for tests and logs)
        self._open()

    # reading rows from the store

    def _rows(
        self, after_pk: int, upto_pk: int | None = None
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(last pk read, pks, vectors) batches of this owner's usable embedded rows with
        after_pk < pk [<= upto_pk]."""
        import numpy as np

        sql = f"SELECT pk, embedding FROM {self._table} WHERE {self._where} AND pk > ?"
        params: list = [self._owner_id, after_pk]
        if upto_pk is not None:
            sql += " AND pk <= ?"
            params.append(upto_pk)
        cursor = self._conn().execute(sql + " AND embedding IS NOT NULL ORDER BY pk", params)
        while rows := cursor.fetchmany(_BATCH):
            last = rows[-1][0]
            if self.dim is None:
                self.dim = len(rows[0][1]) // 4
            # An embedding of another size came from another model; it cannot be compared.
            rows = [r for r in rows if len(r[1]) == 4 * self.dim]
            pks = np.fromiter((r[0] for r in rows), np.int64, len(rows))
            vectors = np.frombuffer(b"".join(r[1] for r in rows), np.float32)
            vectors = vectors.reshape(len(rows), self.dim)
            ok = _valid(vectors)
            yield last, pks[ok], vectors[ok]

    def _scalar(self, select: str, condition: str = "", *params) -> int:
        """One number over this owner's rows: `select` with `condition` (ANDed)."""
        sql = f"SELECT {select} FROM {self._table} WHERE {self._where} {condition}"
        return self._conn().execute(sql, (self._owner_id, *params)).fetchone()[0]

    def _count_upto(self, max_pk: int) -> int:
        return self._scalar("COUNT(*)", "AND pk <= ? AND embedding IS NOT NULL", max_pk)

    def tail_size(self) -> int:
        """How many usable rows are above the watermark, after reading the new ones."""
        import numpy as np

        for last, pks, vectors in self._rows(max(self._tail_read, self.max_pk)):
            self._tail_read = last
            if len(pks):
                if not len(self._tail_keys):
                    self._tail_vectors = np.empty((0, self.dim), np.float32)
                self._tail_keys = np.concatenate([self._tail_keys, pks])
                self._tail_vectors = np.concatenate([self._tail_vectors, vectors])
        return len(self._tail_keys)

    def _set_watermark(self, max_pk: int) -> None:
        """The graph covers the rows up to `max_pk`: the tail starts above it."""
        import numpy as np

        # _tail_read: the newest pk the tail has read (rows up to it are in it)
        self.max_pk = self._tail_read = max_pk
        self._tail_keys = np.empty(0, np.int64)
        self._tail_vectors = np.empty((0, 0), np.float32)

    # opening, saving, rebuilding

    def _read_meta(self) -> dict | None:
        try:
            meta = json.loads(self.meta_path.read_text())
            return meta if {"max_pk", "count", "dim", "tombstones"} <= meta.keys() else None
        except (OSError, ValueError):
            return None

    def _open(self) -> None:
        from memgpt.store.indexes.hnsw import VectorIndex

        meta = self._read_meta()
        if meta is not None and self.path.exists():
            try:
                index = VectorIndex(self.path, meta["dim"], view=True)
            except (OSError, ValueError, RuntimeError):
                index = None
            if index is not None and len(index) == meta["count"]:
                expected = meta["count"] - len(meta["tombstones"])
                alive = self._count_upto(meta["max_pk"])
                if alive <= expected and expected - alive <= DEAD_FRACTION * max(expected, 1):
                    self.index, self.dim = index, meta["dim"]
                    self._set_watermark(meta["max_pk"])
                    self.tombstones = set(meta["tombstones"])
                    return
        self.rebuild()

    def rebuild(self) -> None:
        """Build the index afresh from every embedded row of this owner, and save it."""
        self.rebuilt = True
        self.index, self.tombstones = None, set()
        self._set_watermark(0)
        self.dim = None
        self._add_tail()

    def _add_tail(self) -> None:
        """Add the rows above the watermark to the graph, apply tombstones, save, map again."""
        import numpy as np

        from memgpt.store.indexes.hnsw import VectorIndex

        max_pk = self._scalar("COALESCE(MAX(pk), 0)")
        batches = self._rows(self.max_pk, max_pk)
        first = next(batches, None)
        if first is None and not self.tombstones and self.index is not None:
            self._set_watermark(max(self.max_pk, max_pk))
            return
        if self.dim is None:
            self._clear_files()  # nothing embedded: no index
            self._set_watermark(max_pk)
            return
        # Read the saved graph into RAM: a viewed (memory-mapped) index cannot grow.
        writable = VectorIndex(self.path, self.dim) if self.index is not None else None
        if writable is None:
            self.path.unlink(missing_ok=True)
            writable = VectorIndex(self.path, self.dim)
        if self.tombstones:
            writable.remove(np.fromiter(self.tombstones, np.int64))
        for _, pks, vectors in itertools.chain([first] if first else [], batches):
            if len(pks):
                writable.add(pks, vectors)
        writable.save()
        self.index = VectorIndex(self.path, self.dim, view=True) if len(writable) else None
        self.tombstones = set()
        self._set_watermark(max_pk)
        self._write_meta(len(writable))

    def _write_meta(self, count: int) -> None:
        meta = {
            "max_pk": self.max_pk,
            "count": count,
            "dim": self.dim,
            "tombstones": sorted(self.tombstones),
        }
        tmp = self.meta_path.with_name(self.meta_path.name + ".tmp")
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, self.meta_path)

    def _clear_files(self) -> None:
        self.index = None
        self.path.unlink(missing_ok=True)
        self.meta_path.unlink(missing_ok=True)

    # operations

    def sync(self, force: bool = False) -> None:
        """Move the tail into the graph when it is too big to scan, or when `force`d."""
        if force or self.tail_size() > TAIL_MAX:
            self._add_tail()

    def forget(self, pks: list[int]) -> None:
        import numpy as np

        if len(self._tail_keys):
            kept = ~np.isin(self._tail_keys, pks)
            self._tail_keys, self._tail_vectors = self._tail_keys[kept], self._tail_vectors[kept]
        indexed = [pk for pk in pks if pk <= self.max_pk]
        if indexed and self.index is not None:
            self.tombstones.update(indexed)
            self._write_meta(len(self.index))

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to k (pk, similarity) from the graph plus the exact best k of the tail."""
        import numpy as np

        self.sync()
        # Tombstoned keys are still in the graph: ask past them, so k live ones come back
        # wherever k exist (a caller takes fewer than k as "there are no more").
        keys, scores = (
            self.index.search(query, k + len(self.tombstones))
            if self.index is not None
            else (np.empty(0, np.int64), np.empty(0, np.float32))
        )
        if self.tombstones:
            alive = ~np.isin(keys, np.fromiter(self.tombstones, np.int64))
            keys, scores = keys[alive], scores[alive]
        if len(self._tail_keys) and len(query) == self.dim:
            keys = np.concatenate([keys, self._tail_keys])
            scores = np.concatenate([scores, self._tail_vectors @ query])
        order = np.argsort(-scores, kind="stable")[:k]
        return keys[order], scores[order]


class IndexSet:
    """The per-owner indexes of one store, opened on first use; one lock serialises them."""

    def __init__(
        self, directory: Path, conn: Callable[[], sqlite3.Connection], table: str = "passages"
    ):
        self.directory = directory
        self._conn = conn
        self._table = table
        self._indexes: dict[Owner, OwnerIndex] = {}
        self._lock = threading.Lock()

    def _get(self, owner: Owner) -> OwnerIndex:
        if owner not in self._indexes:
            private_dir(self.directory)
            self._indexes[owner] = OwnerIndex(self.directory, owner, self._conn, self._table)
        return self._indexes[owner]

    def owner_index(self, owner: Owner) -> OwnerIndex:
        with self._lock:
            return self._get(owner)

    def search(
        self, owners: list[Owner], query: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k most similar (pk, similarity) across the owners' indexes."""
        import numpy as np

        query = np.asarray(query, dtype=np.float32)
        keys, scores = [np.empty(0, np.int64)], [np.empty(0, np.float32)]
        with self._lock:
            for owner in owners:
                owner_keys, owner_scores = self._get(owner).search(query, k)
                keys.append(owner_keys)
                scores.append(owner_scores.astype(np.float32))
        all_keys, all_scores = np.concatenate(keys), np.concatenate(scores)
        order = np.argsort(-all_scores, kind="stable")[:k]
        return all_keys[order], all_scores[order]

    def forget(self, owner: Owner, pks: list[int]) -> None:
        with self._lock:
            self._get(owner).forget(pks)

    def drop(self, owner: Owner) -> None:
        """Delete an owner's index files (its passages are gone)."""
        with self._lock:
            self._indexes.pop(owner, None)
            for path in _files(self.directory, owner[1]):
                path.unlink(missing_ok=True)

    def flush(self, owners: list[Owner]) -> None:
        """Put each owner's tail into its graph now (after a bulk load), opening it if needed."""
        with self._lock:
            for owner in owners:
                self._get(owner).sync(force=True)
