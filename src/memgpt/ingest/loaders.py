"""Turn files on disk into text segments for archival memory.

Each supported format goes through a maintained parser: pypdf for PDFs (one
segment per page, so a passage can cite its page), mammoth for Word files,
markitdown's HTML converter for HTML (and for the HTML mammoth makes), the
standard library's `json` and `csv` for those. Plain text is decoded as strict
UTF-8.

A file that cannot be loaded raises `LoadError` carrying a `LoadProblem`: one
sentence that names the file, what is wrong, and what to do. `load_all` turns
those into values so that one bad file never stops a folder from loading.

Encoding policy: text is decoded as UTF-8 (a leading BOM is dropped). Bytes that
are not UTF-8 are reported, not guessed at, because a wrong guess silently puts
mojibake into memory; callers who know the encoding pass `fallback_encoding`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from memgpt.ingest import isolated
from memgpt.ingest.isolated import PARSE_MEMORY_BYTES, PARSE_TIMEOUT_S

# Builds the LoadError for the file being loaded from a reason sentence.
_Fail = Callable[[str], "LoadError"]

DEFAULT_MAX_BYTES = 50 * 1024 * 1024

TEXT_EXTENSIONS = frozenset({".txt", ".md", ".markdown"})
HTML_EXTENSIONS = frozenset({".html", ".htm"})
SUPPORTED_EXTENSIONS = TEXT_EXTENSIONS | HTML_EXTENSIONS | {".pdf", ".docx", ".json", ".csv"}

# pypdf logs every recoverable oddity of real-world PDFs as a warning; they are noise here.
logging.getLogger("pypdf").setLevel(logging.ERROR)

# How far into a text file to look for NUL bytes; text formats never contain them.
_BINARY_SNIFF_BYTES = 8192


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of extracted text.

    `page` is the 1-based page for paginated formats (PDF), else None.
    `char_offset` is where `text` starts in the document's extracted text;
    for a PDF page it is 0, since offsets there count within the page.
    """

    text: str
    page: int | None = None
    char_offset: int = 0


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    path: str
    content_hash: str  # sha256 of the file's bytes: the same file loaded twice is recognisable
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class LoadProblem:
    path: str
    reason: str  # one sentence a user can act on


class LoadError(Exception):
    def __init__(self, problem: LoadProblem) -> None:
        super().__init__(problem.reason)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class LoadOptions:
    max_bytes: int = DEFAULT_MAX_BYTES
    # A zip-based file (.docx) is checked before it is opened: a few kilobytes can unpack
    # to gigabytes, and the XML parser's time and memory grow with what it unpacks.
    max_unpacked_bytes: int = 4 * DEFAULT_MAX_BYTES
    max_xml_bytes: int = 16 * 2**20  # the XML parts: about a minute of parsing at most
    max_entries: int = 2000
    max_ratio: int = 100  # unpacked to packed size, for parts over a megabyte unpacked
    max_pdf_pages: int = 5000
    # PDF and Word files are parsed in a child process with these limits (`isolated`).
    parse_timeout_s: float = PARSE_TIMEOUT_S
    parse_memory_bytes: int = PARSE_MEMORY_BYTES
    # Used only after strict UTF-8 fails, e.g. "cp1252" for old Windows exports.
    fallback_encoding: str | None = None


def iter_files(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield `path` itself if it is a file, else every non-hidden file under it in sorted order.

    Hidden files and folders (leading dot) are skipped: they are editor swap files,
    VCS metadata and the like, never documents the user meant to load.
    """
    root = Path(path)
    if not root.is_dir():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def load_all(
    path: str | os.PathLike[str], options: LoadOptions | None = None
) -> Iterator[LoadedDocument | LoadProblem]:
    """Load every file under `path`; a file that fails becomes a LoadProblem instead of raising."""
    for file in iter_files(path):
        try:
            yield load_file(file, options)
        except LoadError as e:
            yield e.problem


def load_file(path: str | os.PathLike[str], options: LoadOptions | None = None) -> LoadedDocument:
    """Load one file into text segments, or raise LoadError saying why not."""
    opts = options or LoadOptions()
    p = Path(path)
    name = str(p)
    fail = _failing(name)

    if not p.exists():
        raise fail("no such file or folder; check the path.")
    if not p.is_file():
        raise fail("is not a regular file; pass a file or a folder of files.")
    ext = p.suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        kinds = ", ".join(sorted(SUPPORTED_EXTENSIONS))
        raise fail(f"unsupported file type {ext or '(no extension)'!r}; supported: {kinds}.")
    size = p.stat().st_size
    if size > opts.max_bytes:
        raise fail(
            f"is {size:,} bytes, over the {opts.max_bytes:,}-byte limit; "
            "split it or raise the limit."
        )
    if size == 0:
        raise fail("is empty; there is nothing to load.")
    try:
        data = p.read_bytes()
    except OSError as e:
        raise fail(f"could not be read ({e.strerror}); check its permissions.") from e
    return load_bytes(name, ext, data, opts)


def load_bytes(
    name: str, ext: str, data: bytes, options: LoadOptions | None = None
) -> LoadedDocument:
    """Text segments from a document's bytes, read as the type `ext` names (".html", ".pdf",
    ...): a file's, or a web page's (`tools.web`). Raises LoadError saying why not."""
    opts = options or LoadOptions()
    fail = _failing(name)

    if ext in (".pdf", ".docx"):
        if ext == ".docx":
            _check_zip(data, opts, fail)
        parsed = isolated.parse(
            ext,
            data,
            opts.max_pdf_pages,
            fail,
            timeout_s=opts.parse_timeout_s,
            memory_bytes=opts.parse_memory_bytes,
        )
        segments = tuple(Segment(text, page=page) for text, page in parsed)
    else:
        text = _decode(data, opts.fallback_encoding, fail)
        if ext in HTML_EXTENSIONS:
            text = _html_text(text)
        elif ext == ".json":
            text = _json_text(text, fail)
        elif ext == ".csv":
            text = _csv_text(text, fail)
        segments = _single(text)

    if not segments:
        raise fail("contains no extractable text; if it is scanned, run OCR on it first.")
    return LoadedDocument(name, hashlib.sha256(data).hexdigest(), segments)


def _failing(name: str) -> _Fail:
    return lambda reason: LoadError(LoadProblem(name, f"{name}: {reason}"))


def _single(text: str) -> tuple[Segment, ...]:
    return (Segment(text),) if text.strip() else ()


def _decode(data: bytes, fallback: str | None, fail: _Fail) -> str:
    if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        raise fail("looks like a binary file (it contains NUL bytes), not text.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if fallback is None:
            raise fail(
                f"is not valid UTF-8 (bad byte at offset {e.start}); re-save it as UTF-8 "
                "or pass its encoding as fallback_encoding."
            ) from e
        try:
            return data.decode(fallback)
        except (UnicodeDecodeError, LookupError) as e2:
            raise fail(f"is neither UTF-8 nor valid {fallback}; re-save it as UTF-8.") from e2


def _check_zip(data: bytes, opts: LoadOptions, fail: _Fail) -> None:
    """Refuse a zip whose directory says it unpacks too far, before anything is unpacked.
    The sizes are the directory's claims; zipfile stops reading a part at its claimed
    size and fails on a wrong CRC, so a part cannot unpack to more than it claims."""
    try:
        entries = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError) as e:
        raise fail(f"is not a readable Word document ({type(e).__name__}).") from e
    if len(entries) > opts.max_entries:
        raise fail(
            f"holds {len(entries):,} parts, over the limit of {opts.max_entries:,}; "
            "it is not an ordinary document."
        )
    unpacked = sum(e.file_size for e in entries)
    xml = sum(e.file_size for e in entries if e.filename.endswith((".xml", ".rels")))
    for what, size, limit in (
        ("", unpacked, opts.max_unpacked_bytes),
        (" of XML", xml, opts.max_xml_bytes),
    ):
        if size > limit:
            raise fail(
                f"unpacks to {size:,} bytes{what}, over the limit of {limit:,}; split the document."
            )
    for e in entries:
        if e.file_size > 2**20 and e.file_size > opts.max_ratio * max(e.compress_size, 1):
            raise fail(
                f"has a part ({e.filename}) that unpacks over {opts.max_ratio} times its "
                "packed size, as a zip bomb does; it is not an ordinary document."
            )


def _pdf_segments(data: bytes, max_pages: int, fail: _Fail) -> tuple[Segment, ...]:
    if not data.startswith(b"%PDF-"):
        raise fail("is not a PDF (no %PDF- header); check the file.")
    # Imported here: pypdf takes a third of a second to import, which every `memgpt run`
    # and server start would otherwise pay.
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError

    try:
        reader = PdfReader(io.BytesIO(data))
        # Many "encrypted" PDFs only restrict editing and open with an empty password.
        if reader.is_encrypted and not reader.decrypt(""):
            raise fail("is password-protected; decrypt it first (e.g. qpdf --decrypt).")
        if len(reader.pages) > max_pages:
            raise fail(
                f"has {len(reader.pages):,} pages, over the limit of {max_pages:,}; split it."
            )
        pages = [page.extract_text() or "" for page in reader.pages]
    except LoadError:
        raise
    except FileNotDecryptedError as e:
        raise fail("is password-protected; decrypt it first (e.g. qpdf --decrypt).") from e
    # A damaged PDF can fail anywhere inside the parser with many exception types.
    except Exception as e:
        raise fail(f"is not a readable PDF ({type(e).__name__}); it may be damaged.") from e
    return tuple(Segment(t, page=i) for i, t in enumerate(pages, start=1) if t.strip())


def _docx_text(data: bytes, fail: _Fail) -> str:
    # mammoth reads the document itself. markitdown's DocxConverter first rewrites the
    # XML through BeautifulSoup, and with lxml 6.2 that rewrite drops the `w:` prefixes,
    # leaving mammoth no body to find: every .docx failed to load.
    import mammoth

    try:
        html = mammoth.convert_to_html(io.BytesIO(data)).value
    # Parsing goes through zipfile, XML and mammoth; a damaged file fails in any of them.
    except Exception as e:
        raise fail(f"is not a readable Word document ({type(e).__name__}).") from e
    return _html_text(html)


def _html_text(text: str) -> str:
    from markitdown.converters import HtmlConverter

    # Markdown keeps headings and lists as line structure the chunker can split on.
    result = HtmlConverter().convert_string(text)
    return result.markdown


def _json_text(text: str, fail: _Fail) -> str:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise fail(f"is not valid JSON ({e.msg} at line {e.lineno}); fix or rename it.") from e
    # Re-indent so minified JSON gets line breaks the chunker can cut at.
    return json.dumps(value, indent=2, ensure_ascii=False)


def _csv_text(text: str, fail: _Fail) -> str:
    """One line per row, each value labelled with its column, so any chunk stands alone."""
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as e:
        raise fail(f"is not valid CSV ({e}).") from e
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if len(rows) < 2:
        return "\n".join(", ".join(r) for r in rows)
    header, body = rows[0], rows[1:]
    lines = []
    for row in body:
        cells = [
            f"{header[i] if i < len(header) and header[i] else f'column {i + 1}'}: {v}"
            for i, v in enumerate(row)
            if v.strip()
        ]
        lines.append("; ".join(cells))
    return "\n".join(lines)
