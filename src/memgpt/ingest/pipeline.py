"""Load files into a document source: walk, parse, chunk by tokens, embed in batches, store.

Each file's passages and its "done" record commit in one transaction, so a load
killed at any point leaves every file wholly stored or not at all, and running
the same load again resumes: files whose content hash is already done are
skipped, and passages whose text the source already holds are not added again.
A file that cannot be loaded gets one line in the summary and the load goes on.

Chunks of several small files are embedded together (embedders are much faster
per text in batches), and each file is committed as soon as its chunks have
vectors.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from memgpt.embeddings.base import Embedder
from memgpt.errors import MemGPTError
from memgpt.ingest.chunking import Chunk, TokenCounter, chunk_text
from memgpt.ingest.loaders import LoadedDocument, LoadError, LoadOptions, iter_files, load_file
from memgpt.ingest.progress import LoadProgress, NoProgress
from memgpt.llm.tokens import estimate_tokens
from memgpt.schemas import Passage
from memgpt.store import Store
from memgpt.store.base import Source, SourceFile

# Counted with estimate_tokens, which over-counts word pieces on English, so 200 stays
# under MiniLM's 256-piece input limit and nothing is truncated away before embedding.
DEFAULT_MAX_TOKENS = 200
DEFAULT_OVERLAP_TOKENS = 30
DEFAULT_BATCH_SIZE = 64


class SourceMismatchError(MemGPTError):
    """Passages embedded by one model cannot be searched with another's vectors."""


@dataclass(frozen=True, slots=True)
class FileResult:
    path: str
    status: Literal["loaded", "skipped", "failed"]
    passages: int = 0
    reason: str = ""

    def line(self) -> str:
        if self.status == "failed":
            return f"failed   {self.reason}"
        if self.status == "skipped":
            return f"skipped  {self.path}: {self.reason}"
        return f"loaded   {self.path}: {self.passages} passage(s)"


@dataclass
class LoadSummary:
    source: str
    files: list[FileResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def passages(self) -> int:
        return sum(f.passages for f in self.files)

    def lines(self) -> list[str]:
        head = (
            f"Source {self.source!r}: {self.count('loaded')} file(s) loaded, "
            f"{self.count('skipped')} skipped, {self.count('failed')} failed; "
            f"{self.passages} new passage(s)."
        )
        return [head, *(f.line() for f in self.files)]


@dataclass
class _Pending:
    document: LoadedDocument
    chunks: list[Chunk]


@dataclass
class LoadSettings:
    max_tokens: int = DEFAULT_MAX_TOKENS
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS
    batch_size: int = DEFAULT_BATCH_SIZE
    tags: list[str] = field(default_factory=list)
    options: LoadOptions = field(default_factory=LoadOptions)


def token_counter(embedder: Embedder) -> TokenCounter:
    """The embedder's own tokenizer count when it offers one, else the offline estimate."""
    count: Callable[[str], int] | None = getattr(embedder, "count_tokens", None)
    return count if callable(count) else estimate_tokens


class _Loader:
    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        source: Source,
        settings: LoadSettings,
        progress: LoadProgress,
        summary: LoadSummary,
        root: Path,
    ):
        """`root` is the file or folder loaded: files are named relative to it."""
        self.store, self.embedder, self.source = store, embedder, source
        self.root = root if root.is_dir() else root.parent
        self.settings, self.progress, self.summary = settings, progress, summary
        self.count = token_counter(embedder)
        self.done = store.done_hashes(source.id)
        self.pending: list[_Pending] = []

    def file(self, path: Path) -> None:
        try:
            document = load_file(path, self.settings.options)
        except LoadError as exc:
            self.store.add_file(
                SourceFile(
                    source_id=self.source.id,
                    path=str(path),
                    sha256=None,
                    status="failed",
                    error=exc.problem.reason,
                ),
                [],
            )
            self._finish(FileResult(str(path), "failed", reason=exc.problem.reason))
            return
        if document.content_hash in self.done or any(
            p.document.content_hash == document.content_hash for p in self.pending
        ):
            self._finish(FileResult(document.path, "skipped", reason="already loaded"))
            return
        chunks = chunk_text(
            document.segments,
            self.count,
            self.settings.max_tokens,
            self.settings.overlap_tokens,
            path=document.path,
        )
        # Text the source already holds needs no embedding (it will not be stored twice).
        known = self.store.existing_chunks(self.source.id, [c.content_hash for c in chunks])
        self.pending.append(_Pending(document, [c for c in chunks if c.content_hash not in known]))
        if sum(len(p.chunks) for p in self.pending) >= self.settings.batch_size:
            self.flush()

    def flush(self) -> None:
        """Embed the pending files' chunks in batches, then commit each file on its own."""
        chunks = [c for p in self.pending for c in p.chunks]
        vectors = []
        for start in range(0, len(chunks), self.settings.batch_size):
            batch = chunks[start : start + self.settings.batch_size]
            vectors.extend(self.embedder.embed([c.text for c in batch]))
            self.progress.embedded(len(batch))
        position = 0
        for pending in self.pending:
            passages = []
            for chunk in pending.chunks:
                passages.append(
                    Passage(
                        text=chunk.text,
                        embedding=vectors[position].tolist(),
                        source=self.source.name,
                        page=chunk.page,
                        char_offset=chunk.char_offset,
                        chunk_hash=chunk.content_hash,
                        tags=self.settings.tags,
                    )
                )
                position += 1
            document = pending.document
            added = self.store.add_file(
                SourceFile(
                    source_id=self.source.id,
                    path=document.path,
                    sha256=document.content_hash,
                    status="done",
                    name=Path(document.path).relative_to(self.root).as_posix(),
                    text="\n".join(s.text for s in document.segments),
                ),
                passages,
            )
            self.done.add(document.content_hash)
            self._finish(FileResult(document.path, "loaded", passages=added))
        self.pending = []

    def _finish(self, result: FileResult) -> None:
        self.summary.files.append(result)
        self.progress.file_done(result.path, result.passages, result.status == "failed")


def load_into_source(
    store: Store,
    embedder: Embedder,
    source: Source,
    path: str | os.PathLike[str],
    settings: LoadSettings | None = None,
    progress: LoadProgress | None = None,
) -> LoadSummary:
    """Load a file or a folder into `source`; bad files are reported, never raised."""
    if embedder.dim != source.embedding.dim:
        raise SourceMismatchError(
            f"Source {source.name!r} holds {source.embedding.dim}-d vectors but this embedder "
            f"makes {embedder.dim}-d ones; load it with the model it was created with."
        )
    settings = settings or LoadSettings()
    progress = progress or NoProgress()
    summary = LoadSummary(source.name)
    files = list(iter_files(path))
    loader = _Loader(store, embedder, source, settings, progress, summary, Path(path))
    progress.start(len(files))
    try:
        for file in files:
            loader.file(file)
        loader.flush()
        progress.indexing()
        store.flush_index()
    finally:
        progress.stop()
    return summary
