"""The extracted text of loaded files, written once for both dialects: what the file tools
(`tools/files.py`) open by line range and grep."""

from __future__ import annotations

from memgpt.store.base import FileText, SourceFile
from memgpt.store.sql.seam import Seam


class FileTextsSQL(Seam):
    def _save_text(self, file_pk: int, file: SourceFile) -> None:
        """Called inside `add_file`'s transaction, so the text commits with its file."""
        if file.status == "done" and file.name is not None and file.text is not None:
            self._run(
                "INSERT INTO file_texts (file_pk, source_id, name, text) VALUES (?, ?, ?, ?)",
                (file_pk, file.source_id, file.name, file.text),
            )

    def agent_files(self, agent_id: str, name: str | None = None) -> list[FileText]:
        """The texts of the files in the agent's attached sources (only those called `name`
        when given), by source attached and name; a name loaded again is its newest text."""
        where, params = ("AND t.name = ?", (name,)) if name is not None else ("", ())
        rows = self._query(
            "SELECT t.source_id, t.name, t.text FROM agent_sources a"
            " JOIN file_texts t ON t.source_id = a.source_id"
            f" WHERE a.agent_id = ? {where} ORDER BY a.attached_at, t.name, t.file_pk",
            (agent_id, *params),
        )
        newest = {(r["source_id"], r["name"]): FileText(**dict(r)) for r in rows}
        return list(newest.values())
