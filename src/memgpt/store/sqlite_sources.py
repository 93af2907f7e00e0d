"""Document sources for the SQLite store: named collections of files whose passages
agents attach and search along with their own (see `sqlite_archival.py`)."""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from memgpt.schemas import EmbeddingConfig, Passage
from memgpt.store.base import Source, SourceFile, StoreError
from memgpt.store.indexes import IndexSet
from memgpt.store.sqlite_archival import _chunks, _marks, _parse_ts, _ts
from memgpt.store.text_index import TextIndex


class SourcesMixin:
    """Mixed into SQLiteStore, which provides the connection, transactions and indexes."""

    indexes: IndexSet
    text_index: TextIndex

    if TYPE_CHECKING:

        def _execute(self, sql: str, params: tuple | list = ()) -> sqlite3.Cursor: ...
        def transaction(self) -> AbstractContextManager[None]: ...
        def _insert_rows(
            self,
            passages: list[Passage],
            *,
            agent_id: str | None = None,
            source_id: str | None = None,
            file_pk: int | None = None,
        ) -> None: ...

    @staticmethod
    def _source(row: sqlite3.Row) -> Source:
        return Source(
            id=row["id"],
            name=row["name"],
            description=row["description"],
            embedding=EmbeddingConfig.model_validate_json(row["embedding"]),
            created_at=_parse_ts(row["created_at"]),
        )

    def create_source(self, source: Source) -> None:
        with self.transaction():
            if self._execute("SELECT 1 FROM sources WHERE name = ?", (source.name,)).fetchone():
                raise StoreError(
                    f"A source named {source.name!r} already exists; pick another name."
                )
            self._execute(
                "INSERT INTO sources (id, name, description, embedding, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    source.id,
                    source.name,
                    source.description,
                    source.embedding.model_dump_json(),
                    _ts(source.created_at),
                ),
            )

    def get_source(self, id_or_name: str) -> Source | None:
        row = self._execute(
            "SELECT * FROM sources WHERE id = ? OR name = ?", (id_or_name, id_or_name)
        ).fetchone()
        return self._source(row) if row else None

    def list_sources(self) -> list[Source]:
        return [self._source(r) for r in self._execute("SELECT * FROM sources ORDER BY name")]

    def delete_source(self, source_id: str) -> None:
        with self.transaction():
            self._execute("DELETE FROM sources WHERE id = ?", (source_id,))
        self.indexes.drop(("source_id", source_id))
        self.text_index.drop(("source_id", source_id))

    def done_hashes(self, source_id: str) -> set[str]:
        rows = self._execute(
            "SELECT sha256 FROM source_files WHERE source_id = ? AND status = 'done'", (source_id,)
        )
        return {r[0] for r in rows}

    def existing_chunks(self, source_id: str, hashes: list[str]) -> set[str]:
        found: set[str] = set()
        for part in _chunks(list(dict.fromkeys(hashes))):
            rows = self._execute(
                "SELECT chunk_hash FROM passages WHERE source_id = ?"
                f" AND chunk_hash IN ({_marks(len(part))})",
                (source_id, *part),
            )
            found.update(r[0] for r in rows)
        return found

    def add_file(self, file: SourceFile, passages: list[Passage]) -> int:
        """Record a loaded (or failed) file with its passages in one transaction.

        A killed load therefore leaves each file either wholly in or wholly out. Passages
        whose text the source already holds are skipped; returns how many were added.
        """
        with self.transaction():
            # A file that failed before and is loaded again replaces its failure record.
            self._execute(
                "DELETE FROM source_files WHERE source_id = ? AND path = ? AND status = 'failed'",
                (file.source_id, file.path),
            )
            if file.status == "done" and file.sha256 in self.done_hashes(file.source_id):
                return 0
            existing = self.existing_chunks(
                file.source_id, [p.chunk_hash for p in passages if p.chunk_hash]
            )
            fresh: list[Passage] = []
            for p in passages:
                if p.chunk_hash not in existing:
                    fresh.append(p)
                    existing.add(p.chunk_hash)
            file_pk = self._execute(
                "INSERT INTO source_files (source_id, path, sha256, status, passages, error, loaded_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    file.source_id,
                    file.path,
                    file.sha256,
                    file.status,
                    len(fresh),
                    file.error,
                    _ts(file.loaded_at),
                ),
            ).lastrowid
            if fresh:
                self._insert_rows(fresh, source_id=file.source_id, file_pk=file_pk)
            return len(fresh)

    def list_files(self, source_id: str) -> list[SourceFile]:
        rows = self._execute(
            "SELECT * FROM source_files WHERE source_id = ? ORDER BY pk", (source_id,)
        )
        return [
            SourceFile(
                source_id=r["source_id"],
                path=r["path"],
                sha256=r["sha256"],
                status=r["status"],
                passages=r["passages"],
                error=r["error"],
                loaded_at=_parse_ts(r["loaded_at"]),
            )
            for r in rows
        ]

    def attach_source(self, agent_id: str, source_id: str) -> None:
        self._execute(
            "INSERT OR IGNORE INTO agent_sources (agent_id, source_id, attached_at) VALUES (?, ?, ?)",
            (agent_id, source_id, _ts(datetime.now(UTC))),
        )

    def detach_source(self, agent_id: str, source_id: str) -> bool:
        return bool(
            self._execute(
                "DELETE FROM agent_sources WHERE agent_id = ? AND source_id = ?",
                (agent_id, source_id),
            ).rowcount
        )

    def attached_sources(self, agent_id: str) -> list[Source]:
        rows = self._execute(
            "SELECT s.* FROM agent_sources a JOIN sources s ON s.id = a.source_id"
            " WHERE a.agent_id = ? ORDER BY a.attached_at, s.name",
            (agent_id,),
        )
        return [self._source(r) for r in rows]
