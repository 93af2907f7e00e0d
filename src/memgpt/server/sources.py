"""Document sources ("folders" in the 1.x SDK) for the server: create one, upload files
into it, and attach it to agents, all scoped to the caller's organization.

An upload is answered at once with the file's record, status "pending"; the document
pipeline (`MemGPT.load`) then parses, chunks and embeds it on a small pool of its own
threads, moving the status through "parsing" and "embedding" to "completed" or "error".
Clients poll the file until it is done. The status is stored, so any server process on
the same database answers the poll.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

from memgpt.embeddings import create_embedder
from memgpt.embeddings.base import Embedder
from memgpt.ingest.loaders import LoadOptions
from memgpt.ingest.pipeline import FileResult, LoadSettings, load_into_source
from memgpt.schemas import new_id, utcnow
from memgpt.server import wire
from memgpt.server.auth import Principal
from memgpt.server.errors import ConflictError, NotFoundError
from memgpt.server.requests import CreateSource
from memgpt.server.service import AgentService
from memgpt.server.settings import ServerSettings
from memgpt.store.accounts import FileStatus, SourceOwner, UploadedFile
from memgpt.store.base import Source

log = logging.getLogger(__name__)

# Embedding is CPU-bound; two loads at once keep the cores shared with agent steps.
INGEST_WORKERS = 2


def agent_sources(service: AgentService, agent_id: str) -> list[dict[str, Any]]:
    """The sources attached to an agent, as an agent's `sources` field shows them."""
    return [
        wire.source(s, service.accounts.source_owner(s.id))
        for s in service.store.attached_sources(agent_id)
    ]


class _Progress:
    """The pipeline's progress hooks, kept on the uploaded file's record for pollers."""

    def __init__(self, sources: SourceService, file: UploadedFile):
        self.sources, self.file = sources, file

    def start(self, total_files: int) -> None:
        self.sources.set_status(self.file, "parsing")

    def embedded(self, passages: int) -> None:
        self.file.chunks += passages
        self.sources.set_status(self.file, "embedding")

    def file_done(self, path: str, passages: int, failed: bool) -> None:
        pass  # the summary gives the outcome once the load returns

    def indexing(self) -> None:
        pass

    def stop(self) -> None:
        pass


class SourceService:
    def __init__(self, agents: AgentService, settings: ServerSettings):
        self.agents = agents
        self.client, self.store, self.accounts = agents.client, agents.store, agents.accounts
        self.max_upload_bytes = settings.max_upload_bytes
        self.pool = ThreadPoolExecutor(INGEST_WORKERS, thread_name_prefix="memgpt-ingest")
        self._embedders: dict[str, Embedder] = {}
        self._embedders_guard = threading.Lock()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    # sources

    def owner(self, p: Principal, source_id: str) -> SourceOwner:
        owner = self.accounts.source_owner(source_id)
        if owner is None or owner.organization_id != p.organization_id:
            raise NotFoundError(f"There is no source {source_id!r}.")
        return owner

    def get(self, p: Principal, source_id: str) -> tuple[Source, SourceOwner]:
        owner = self.owner(p, source_id)
        source = self.store.get_source(source_id)
        if source is None:
            raise NotFoundError(f"There is no source {source_id!r}.")
        return source, owner

    def render(self, p: Principal, source_id: str) -> dict[str, Any]:
        return wire.source(*self.get(p, source_id))

    def create(self, p: Principal, req: CreateSource) -> dict[str, Any]:
        if any(o.name == req.name for o in self.accounts.owned_sources(p.organization_id)):
            raise ConflictError(f"A source named {req.name!r} already exists; pick another name.")
        models = self.agents.models
        embedding = (
            models.embedding(req.embedding, req.embedding_config) or models.default_embedding
        )
        with self.store.transaction():
            # Store names are unique across organizations; the name users see is per
            # organization and lives in the ownership table, as agents' names do.
            source = self.client.create_source(
                f"{req.name}~{new_id('x')[2:10]}",
                description=req.description or "",
                embedding=embedding,
            )
            owner = SourceOwner(
                source_id=source.id,
                organization_id=p.organization_id,
                user_id=p.user_id,
                name=req.name,
            )
            self.accounts.set_source_owner(owner)
        return wire.source(source, owner)

    def list_sources(self, p: Principal, name: str | None) -> list[dict[str, Any]]:
        return [
            self.render(p, o.source_id)
            for o in self.accounts.owned_sources(p.organization_id)
            if name is None or o.name == name
        ]

    def id_by_name(self, p: Principal, name: str) -> str:
        for owner in self.accounts.owned_sources(p.organization_id):
            if owner.name == name:
                return owner.source_id
        raise NotFoundError(f"There is no source named {name!r}.")

    def count(self, p: Principal) -> int:
        return len(self.accounts.owned_sources(p.organization_id))

    def delete(self, p: Principal, source_id: str) -> None:
        self.owner(p, source_id)
        self.client.delete_source(source_id)  # its passages, files and attachments go with it

    # files

    def upload(
        self, p: Principal, source_id: str, name: str, file_type: str | None, data: BinaryIO
    ) -> dict[str, Any]:
        """Keep the file in a folder of its own and queue it for loading. `name` has been
        made safe (`uploads.safe_file_name`), so the file cannot land outside that folder."""
        source, _ = self.get(p, source_id)
        folder = Path(tempfile.mkdtemp(prefix="memgpt-upload-"))
        path = folder / name
        with path.open("wb") as out:
            shutil.copyfileobj(data, out)
        file = UploadedFile(
            source_id=source.id, file_name=name, file_type=file_type, file_size=path.stat().st_size
        )
        self.accounts.save_uploaded_file(file)
        self.pool.submit(self._load, source, file, path)
        return wire.uploaded_file(file)

    def get_file(self, p: Principal, source_id: str, file_id: str) -> dict[str, Any]:
        self.owner(p, source_id)
        file = self.accounts.uploaded_file(source_id, file_id)
        if file is None:
            raise NotFoundError(f"Source {source_id!r} has no file {file_id!r}.")
        return wire.uploaded_file(file)

    def list_files(self, p: Principal, source_id: str) -> list[dict[str, Any]]:
        self.owner(p, source_id)
        return [wire.uploaded_file(f) for f in self.accounts.uploaded_files(source_id)]

    def set_status(self, file: UploadedFile, status: FileStatus, error: str | None = None) -> None:
        file.status, file.error, file.updated_at = status, error, utcnow()
        self.accounts.save_uploaded_file(file)

    def _embedder(self, source: Source) -> Embedder:
        """One embedder per model, reused: building a local model takes seconds."""
        key = source.embedding.model_dump_json()
        with self._embedders_guard:
            if key not in self._embedders:
                self._embedders[key] = create_embedder(source.embedding)
            return self._embedders[key]

    def _load(self, source: Source, file: UploadedFile, path: Path) -> None:
        """Run in the ingest pool: load the file and record how it went."""
        try:
            settings = LoadSettings(options=LoadOptions(max_bytes=self.max_upload_bytes))
            # Not `MemGPT.load`, which would make the source anew had it been deleted.
            summary = load_into_source(
                self.store, self._embedder(source), source, path, settings, _Progress(self, file)
            )
            self._finish(file, summary.files[0], path)
        except Exception as exc:
            if self.store.get_source(source.id) is None:
                return  # deleted while loading: the file's record went with it, no failure
            # Nothing above the pool would see this; it must end on the file's record.
            log.exception("loading %s into %s failed", file.id, source.id)
            self.set_status(file, "error", f"Loading failed ({type(exc).__name__}).")
        finally:
            shutil.rmtree(path.parent, ignore_errors=True)

    def _finish(self, file: UploadedFile, result: FileResult, path: Path) -> None:
        if result.status == "failed":
            # The loader names the file by its path on this server; clients know its name.
            self.set_status(file, "error", result.reason.replace(str(path), file.file_name))
            return
        file.chunks = result.passages  # a file loaded before adds nothing new
        self.set_status(file, "completed")

    # agents

    def attach(self, p: Principal, agent_id: str, source_id: str) -> dict[str, Any]:
        self.agents.owner(p, agent_id)
        self.get(p, source_id)
        self.client.attach_source(agent_id, source_id)  # refuses another embedding model
        self.agents.forget(agent_id)  # its functions changed: the file functions came
        return self.agents.render(p, *self.agents.state(p, agent_id))

    def detach(self, p: Principal, agent_id: str, source_id: str) -> dict[str, Any]:
        self.agents.owner(p, agent_id)
        self.get(p, source_id)
        # Detaching what is not attached is done already (1.x retries requests).
        if source_id in {s.id for s in self.store.attached_sources(agent_id)}:
            self.client.detach_source(agent_id, source_id)
            self.agents.forget(agent_id)
        return self.agents.render(p, *self.agents.state(p, agent_id))

    def of_agent(self, p: Principal, agent_id: str) -> list[dict[str, Any]]:
        self.agents.owner(p, agent_id)
        return agent_sources(self.agents, agent_id)
