"""The file functions, as Letta names them: an agent with folders (document sources)
attached opens their files into working context, greps them, and searches their
passages by meaning. Attaching a folder gives an agent these functions; detaching its
last takes them away (`attach_folder`, `detach_folder`).
"""

from __future__ import annotations

import json

from pydantic import BaseModel, Field

from memgpt.memory import archival, files
from memgpt.memory.recall import check_search
from memgpt.schemas import AgentState
from memgpt.store import Store
from memgpt.store.base import ArchivalFilter, FileText, Source
from memgpt.tools.base import FunctionContext
from memgpt.tools.schema import Function, function_from_callable

FILE_FUNCTION_NAMES = ("open_files", "grep_files", "semantic_search_files")
MAX_SEMANTIC_RESULTS = 20


class FileOpenRequest(BaseModel):
    file_name: str = Field(description='"<folder>/<file>"')
    offset: int | None = Field(None, description="first line, from 0")
    length: int | None = Field(None, description="lines to show (default: to the end)")


def _attached(ctx: FunctionContext) -> tuple[list[Source], list[tuple[str, FileText]]]:
    sources = ctx.store.attached_sources(ctx.state.id)
    by_id = {s.id: s for s in sources}
    named = [
        (files.display_name(by_id[f.source_id], f), f)
        for f in ctx.store.agent_files(ctx.state.id)
        if f.source_id in by_id
    ]
    return sources, named


def _find(ctx: FunctionContext, sources: list[Source], name: str) -> FileText | None:
    for source in sources:
        if name.startswith(source.name + "/"):
            for f in ctx.store.agent_files(ctx.state.id, name[len(source.name) + 1 :]):
                if f.source_id == source.id:
                    return f
    return None


def open_files(
    ctx: FunctionContext, file_requests: list[FileOpenRequest], close_all_others: bool = False
) -> str:
    """Open files of your attached folders (whole or some lines) into working context; past its limits the least recently used close.

    Args:
        file_requests: The files, each with optional lines.
        close_all_others: Close every other open file first.
    """
    # Arguments arrive validated, as plain data.
    file_requests = [FileOpenRequest.model_validate(r) for r in file_requests]
    if not file_requests:
        raise files.FileToolError("file_requests is empty; name at least one file to open.")
    if len(file_requests) > ctx.state.max_files_open:
        raise files.FileToolError(
            f"At most {ctx.state.max_files_open} files can be open; ask for fewer."
        )
    wanted = {r.file_name for r in file_requests}
    sources = ctx.store.attached_sources(ctx.state.id)
    found = []
    for request in file_requests:
        file = _find(ctx, sources, request.file_name)
        if file is None:
            names = ", ".join(name for name, _ in _attached(ctx)[1]) or "none"
            raise files.FileToolError(
                f"{request.file_name!r} is not in an attached folder; the files are: {names}."
            )
        found.append((request, file))
    closed = files.close_files(ctx.state, wanted) if close_all_others else []
    opened = []
    for request, file in found:
        closed += files.open_file(
            ctx.state, file, request.file_name, request.offset or 0, request.length, ctx.count
        )
        entry = ctx.state.open_files[-1]
        opened.append(f"{entry.name} (lines {entry.start_line}-{entry.end_line})")
    still_open = {f.name for f in ctx.state.open_files}
    closed = [name for name in dict.fromkeys(closed) if name not in still_open]
    note = f" Closed, least recently used first: {', '.join(closed)}." if closed else ""
    return f"Opened {', '.join(opened)}.{note}"


def grep_files(
    ctx: FunctionContext,
    pattern: str,
    include: str | None = None,
    context_lines: int | None = 1,
    offset: int | None = 0,
) -> str:
    """Search your attached folders' files for a regular expression or text, 20 matches a page.

    Args:
        pattern: A regular expression or text (case-insensitive).
        include: Only files whose name matches this glob ("*.md") or contains this text.
        context_lines: Lines shown around each match.
        offset: Matches to skip, for the next page.
    """
    _, named = _attached(ctx)
    # Letta's models may send null for what they leave at its default.
    result, matched = files.grep(
        [(name, f.text) for name, f in named],
        pattern,
        include,
        1 if context_lines is None else context_lines,
        offset or 0,
    )
    files.touch(ctx.state, matched)
    return result


def semantic_search_files(ctx: FunctionContext, query: str, limit: int = 5) -> str:
    """Search your attached folders' files by meaning, best passages first.

    Args:
        query: What to look for.
        limit: How many passages, at most 20.
    """
    check_search(query, 0)
    sources, named = _attached(ctx)
    if not sources:
        return "No folders are attached."
    limit = max(1, min(limit, MAX_SEMANTIC_RESULTS))
    hits, total = ctx.store.search_archival(
        ctx.state.id,
        query,
        archival.query_vector(ctx.embedder, query),
        limit,
        0,
        ArchivalFilter(sources=[s.name for s in sources]),
    )
    by_source = {s.name: s for s in sources}
    rows = []
    for hit in hits:
        row = archival.describe(hit)
        row.pop("time", None)
        source = by_source.get(hit.passage.source or "")
        if source is not None and hit.passage.file:
            # The stored path is where the file was loaded from; the agent knows its name.
            path = hit.passage.file.replace("\\", "/")
            row["file"] = next(
                (n for n, f in named if f.source_id == source.id and path.endswith("/" + f.name)),
                row["file"],
            )
        rows.append(row)
    return f"{total} passages match; showing {len(rows)}.\n" + json.dumps(rows, ensure_ascii=False)


FILE_FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in [
        function_from_callable(open_files),
        function_from_callable(grep_files),
        function_from_callable(semantic_search_files),
    ]
}


def attach_folder(store: Store, state: AgentState, source: str, names: list[str]) -> Source:
    """Attach the source (by name or id) and give the agent, whose functions are `names`,
    the file functions; the caller saves the state."""
    attached = archival.attach(store, state, source)
    state.tool_names = [*names, *(n for n in FILE_FUNCTION_NAMES if n not in names)]
    return attached


def detach_folder(store: Store, state: AgentState, source: str) -> Source:
    """Detach the source and close its files; with the last one go the file functions.
    The caller saves the state."""
    detached = archival.detach(store, state, source)
    files.close_source(state, detached.id)
    if not store.attached_sources(state.id):
        state.tool_names = [n for n in state.tool_names if n not in FILE_FUNCTION_NAMES]
    return detached
