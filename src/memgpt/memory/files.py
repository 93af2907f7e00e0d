"""Open files: a section of working context holding files from the agent's attached
sources (Letta's folders), each whole or a range of its lines, numbered.

The section is bounded three ways: at most `max_files_open` files, at most
`per_file_view_window_char_limit` characters a file, and at most FILES_FRACTION of the
context budget in tokens, so opening files can never overflow main context (DESIGN
invariant 1). Past a limit the least recently used files are closed first; a single
file too large for the section is cut to fit and says so.
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter as Tally
from collections.abc import Callable

from memgpt.schemas import AgentState, OpenFile, utcnow
from memgpt.store.base import FileText, Source

FILES_FRACTION = 0.25  # of the context budget (the window less the reply's room)
SECTION_HEADER = "### Open files\n"
GREP_PAGE = 20  # matches a grep_files call shows; the next page is asked for by offset
GREP_MAX_MATCHES = 1000  # matches collected at most, so a common pattern stays cheap
MAX_CONTEXT_LINES = 10
MAX_PATTERN = 1000  # characters; a longer regular expression is refused

Count = Callable[[str], int]


class FileToolError(Exception):
    """A file operation the agent asked for cannot be done; the text says what to do."""


def display_name(source: Source, file: FileText) -> str:
    return f"{source.name}/{file.name}"


def render(state: AgentState) -> str:
    """The section as the model sees it (empty with no file open)."""
    if not state.open_files:
        return ""
    parts = []
    for f in state.open_files:
        note = " (cut to fit: open a range of lines to see the rest)" if f.truncated else ""
        lines = f"{f.start_line}-{f.end_line} of {f.total_lines}"
        parts.append(f'<file name="{f.name}" lines="{lines}">{note}\n{f.value}\n</file>')
    return SECTION_HEADER + "\n".join(parts)


def room(state: AgentState) -> int:
    """The most tokens the section may take."""
    return int(FILES_FRACTION * (state.llm.context_window - state.llm.max_output_tokens))


def _view(name: str, text: str, offset: int, length: int | None, char_limit: int) -> OpenFile:
    lines = text.splitlines()
    if offset < 0:
        raise FileToolError(f"offset for {name} must be 0 or more (lines count from 0).")
    if length is not None and length < 1:
        raise FileToolError(f"length for {name} must be 1 or more, or left out for the rest.")
    if lines and offset >= len(lines):
        raise FileToolError(f"{name} has {len(lines)} lines; use an offset below {len(lines)}.")
    chosen = lines[offset : None if length is None else offset + length]
    rows, used, cut = [], 0, False
    for number, line in enumerate(chosen, start=offset + 1):
        row = f"{number}: {line}"
        if used + len(row) > char_limit:
            if not rows:
                rows.append(row[:char_limit])  # one long line: show its start
            cut = True
            break
        rows.append(row)
        used += len(row) + 1
    return OpenFile(
        source_id="",
        name=name,
        value="\n".join(rows),
        start_line=offset + 1,
        end_line=offset + max(len(rows), 1),
        total_lines=len(lines),
        truncated=cut,
    )


def _shrink(state: AgentState, entry: OpenFile, count: Count, limit: int) -> None:
    """Cut the newest file's view by whole lines until the section fits `limit` tokens."""
    rows = entry.value.split("\n")
    entry.truncated = True  # its note is part of what must fit

    def keep(n: int) -> None:
        entry.value = "\n".join(rows[:n])
        entry.end_line = entry.start_line + max(n, 1) - 1

    low, high = 0, len(rows)  # the most lines that fit lies in [low, high]
    while low < high:
        middle = (low + high + 1) // 2
        keep(middle)
        if count(render(state)) <= limit:
            low = middle
        else:
            high = middle - 1
    keep(low)


def open_file(
    state: AgentState,
    file: FileText,
    name: str,
    offset: int,
    length: int | None,
    count: Count,
) -> list[str]:
    """Open `file` (or its lines from `offset`, `length` of them) as the newest entry;
    return the names of the files closed to make room, least recently used first."""
    entry = _view(name, file.text, offset, length, state.per_file_view_window_char_limit)
    entry.source_id = file.source_id
    state.open_files = [f for f in state.open_files if f.name != name] + [entry]
    closed = []
    while len(state.open_files) > max(state.max_files_open, 1):
        closed.append(state.open_files.pop(0).name)
    limit = room(state)
    while count(render(state)) > limit and len(state.open_files) > 1:
        closed.append(state.open_files.pop(0).name)
    if count(render(state)) > limit:
        _shrink(state, entry, count, limit)
    if count(render(state)) > limit:  # not even the file's name fits
        state.open_files = []
        raise FileToolError(f"This agent's context window has no room to open {name}.")
    return closed


def close_files(state: AgentState, keep: set[str] | None = None) -> list[str]:
    """Close every open file but those named in `keep`; return the names closed."""
    keep = keep or set()
    closed = [f.name for f in state.open_files if f.name not in keep]
    state.open_files = [f for f in state.open_files if f.name in keep]
    return closed


def close_source(state: AgentState, source_id: str) -> None:
    state.open_files = [f for f in state.open_files if f.source_id != source_id]


def touch(state: AgentState, names: set[str]) -> None:
    """Mark open files as just used: a search that found them keeps them open longest."""
    used = [f for f in state.open_files if f.name in names]
    for f in used:
        f.accessed_at = utcnow()
    state.open_files = [f for f in state.open_files if f.name not in names] + used


def _pattern(pattern: str) -> re.Pattern[str]:
    """A regular expression, or the text itself where it is not a valid one."""
    if not pattern.strip():
        raise FileToolError("pattern is empty; give the text or regular expression to find.")
    if len(pattern) > MAX_PATTERN:
        raise FileToolError(f"pattern is over {MAX_PATTERN} characters; shorten it.")
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error:
        return re.compile(re.escape(pattern), re.IGNORECASE)


def _included(name: str, include: str | None) -> bool:
    if not include:
        return True
    if any(c in include for c in "*?["):
        return fnmatch.fnmatch(name.lower(), include.lower()) or fnmatch.fnmatch(
            name.rsplit("/", 1)[-1].lower(), include.lower()
        )
    return include.lower() in name.lower()


def grep(
    files: list[tuple[str, str]],
    pattern: str,
    include: str | None = None,
    context_lines: int = 1,
    offset: int = 0,
) -> tuple[str, set[str]]:
    """Search (name, text) pairs line by line; a page of matches with `context_lines`
    around each, and the names of the files that matched."""
    regex = _pattern(pattern)
    context_lines = max(0, min(context_lines, MAX_CONTEXT_LINES))
    offset = max(0, offset)
    chosen = [(name, text) for name, text in files if _included(name, include)]
    if not chosen:
        return (f"No attached file's name matches {include!r}." if include else "No files."), set()
    matches: list[tuple[str, list[str], int]] = []
    for name, text in chosen:
        lines = text.splitlines()
        for index, line in enumerate(lines):
            if regex.search(line):
                matches.append((name, lines, index))
                if len(matches) >= GREP_MAX_MATCHES:
                    break
        if len(matches) >= GREP_MAX_MATCHES:
            break
    if not matches:
        return f"No matches for {pattern!r} in {len(chosen)} files.", set()
    per_file = Tally(name for name, _, _ in matches)
    more = "+" if len(matches) >= GREP_MAX_MATCHES else ""
    out = [
        f"Found {len(matches)}{more} matches in {len(per_file)} files: "
        + ", ".join(f"{name} ({n})" for name, n in per_file.items())
    ]
    page = matches[offset : offset + GREP_PAGE]
    for name, lines, index in page:
        out.append(f"=== {name}:{index + 1} ===")
        for at in range(max(0, index - context_lines), min(len(lines), index + context_lines + 1)):
            out.append(f"{'>' if at == index else ' '} {at + 1}: {lines[at]}")
    if not page:
        out.append(f"No matches from offset {offset}; there are {len(matches)}.")
    elif offset + GREP_PAGE < len(matches):
        out.append(f"More matches: call grep_files again with offset={offset + GREP_PAGE}.")
    return "\n".join(out), set(per_file)
