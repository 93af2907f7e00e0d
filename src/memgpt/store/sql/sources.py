"""Document sources, written once for both dialects: named collections of files whose
passages agents attach and search along with their own (see `archival.py`)."""

from __future__ import annotations

from datetime import UTC, datetime

from memgpt.schemas import Passage
from memgpt.store.base import Source, SourceFile
from memgpt.store.sql.archival import chunks
from memgpt.store.sql.file_texts import FileTextsSQL
from memgpt.store.sql.seam import Row


class SourcesSQL(FileTextsSQL):
    def _source(self, row: Row) -> Source:
        return self._record(Source, row, json=("embedding",))

    def create_source(self, source: Source) -> None:
        with self.transaction():
            self._insert_named(
                "sources",
                source.name,
                "A source",
                "INSERT INTO sources (id, name, description, embedding, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    source.id,
                    source.name,
                    source.description,
                    self._json(source.embedding.model_dump(mode="json")),
                    self._ts(source.created_at),
                ),
            )

    def get_source(self, id_or_name: str) -> Source | None:
        row = self._one("SELECT * FROM sources WHERE id = ? OR name = ?", (id_or_name, id_or_name))
        return self._source(row) if row else None

    def list_sources(self) -> list[Source]:
        return [self._source(r) for r in self._query("SELECT * FROM sources ORDER BY name")]

    def delete_source(self, source_id: str) -> None:
        with self.transaction():
            self._run("DELETE FROM sources WHERE id = ?", (source_id,))
        self._dropped(("source_id", source_id))

    def done_hashes(self, source_id: str) -> set[str]:
        rows = self._query(
            "SELECT sha256 FROM source_files WHERE source_id = ? AND status = 'done'", (source_id,)
        )
        return {r["sha256"] for r in rows}

    def existing_chunks(self, source_id: str, hashes: list[str]) -> set[str]:
        found: set[str] = set()
        for part in chunks(list(dict.fromkeys(hashes))):
            where, params = self._any("chunk_hash", part)
            rows = self._query(
                f"SELECT chunk_hash FROM passages WHERE source_id = ? AND {where}",
                (source_id, *params),
            )
            found.update(r["chunk_hash"] for r in rows)
        return found

    def add_file(self, file: SourceFile, passages: list[Passage]) -> int:
        """Record a loaded (or failed) file with its passages in one transaction.

        A killed load therefore leaves each file either wholly in or wholly out. Passages
        whose text the source already holds are skipped; returns how many were added.
        """
        with self.transaction():
            # Loads into one source take turns: a second load of the same file then sees
            # the first one's rows and skips them.
            self._serialize(f"source:{file.source_id}")
            # A file that failed before and is loaded again replaces its failure record.
            self._run(
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
            file_pk = self._one(
                "INSERT INTO source_files (source_id, path, sha256, status, passages, error,"
                " loaded_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING pk",
                (
                    file.source_id,
                    file.path,
                    file.sha256,
                    file.status,
                    len(fresh),
                    file.error,
                    self._ts(file.loaded_at),
                ),
            )["pk"]
            self._save_text(file_pk, file)
            if fresh:
                self._insert_rows(fresh, source_id=file.source_id, file_pk=file_pk)
            return len(fresh)

    def list_files(self, source_id: str) -> list[SourceFile]:
        rows = self._query(
            "SELECT * FROM source_files WHERE source_id = ? ORDER BY pk", (source_id,)
        )
        return [self._record(SourceFile, r, times=("loaded_at",)) for r in rows]

    def attach_source(self, agent_id: str, source_id: str) -> None:
        self._run(
            "INSERT INTO agent_sources (agent_id, source_id, attached_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (agent_id, source_id, self._ts(datetime.now(UTC))),
        )

    def detach_source(self, agent_id: str, source_id: str) -> bool:
        return bool(
            self._run(
                "DELETE FROM agent_sources WHERE agent_id = ? AND source_id = ?",
                (agent_id, source_id),
            )
        )

    def attached_sources(self, agent_id: str) -> list[Source]:
        rows = self._query(
            "SELECT s.* FROM agent_sources a JOIN sources s ON s.id = a.source_id"
            " WHERE a.agent_id = ? ORDER BY a.attached_at, s.name",
            (agent_id,),
        )
        return [self._source(r) for r in rows]
