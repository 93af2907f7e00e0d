"""Receiving an uploaded file (a document, an agent file): bounded in size, and named so
it cannot leave its folder.

The multipart body is parsed here rather than by a `File()` parameter, because FastAPI
reads a whole form before any check runs: a body whose declared length is over the
limit is refused before a byte of it is read, and one that does not declare it is cut
off with 413 as soon as it passes the limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import PurePosixPath
from typing import Any

from fastapi import HTTPException, Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

MULTIPART_OVERHEAD = 16 * 1024  # boundaries and part headers around the file's own bytes
MAX_NAME_CHARS = 255  # the usual file system limit on one name


def upload_body(*fields: str) -> dict[str, Any]:
    """For /openapi.json: the body a route reads by hand, as `File()` and `Form()`
    parameters (the file, then optional text fields) would declare it."""
    properties = {"file": {"type": "string", "format": "binary"}}
    properties |= {name: {"type": "string"} for name in fields}
    schema = {"type": "object", "required": ["file"], "properties": properties}
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    }


UPLOAD_BODY = upload_body()


def too_large(limit: int) -> HTTPException:
    return HTTPException(
        413,
        f"The upload is over the server's {limit:,}-byte limit; split the file, or start "
        "the server with a larger --max-upload-mb.",
    )


async def _bounded(request: Request, limit: int) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit + MULTIPART_OVERHEAD:
            raise too_large(limit)
        yield chunk


async def receive_form(request: Request, limit: int) -> tuple[UploadFile, dict[str, str]]:
    """The multipart field `file`, at most `limit` bytes (413 otherwise), and the form's
    text fields."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise too_large(limit)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HTTPException(400, "Send the file as multipart/form-data in a field named 'file'.")
    parser = MultiPartParser(request.headers, _bounded(request, limit), max_files=1, max_fields=16)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise HTTPException(400, f"The upload is not valid multipart data: {exc.message}") from None
    file = form.get("file")
    if not isinstance(file, UploadFile):
        await form.close()
        raise HTTPException(400, "Send the file in a multipart field named 'file'.")
    if file.size is not None and file.size > limit:
        await form.close()
        raise too_large(limit)
    return file, {k: v for k, v in form.multi_items() if isinstance(v, str)}


async def receive_file(request: Request, limit: int) -> UploadFile:
    """The multipart field `file`, at most `limit` bytes (413 otherwise)."""
    file, _ = await receive_form(request, limit)
    return file


def safe_file_name(name: str | None) -> str:
    """The last component of a client's file name, without control characters, so that
    "../../etc/passwd" or "C:\\dir\\x.txt" can only name a file in the upload's own
    folder; too long a name keeps its extension."""
    base = PurePosixPath((name or "").replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    if base in ("", ".", ".."):
        raise HTTPException(
            400, "The upload has no usable file name; name the file, e.g. notes.txt."
        )
    if len(base) > MAX_NAME_CHARS:
        suffix = PurePosixPath(base).suffix[:16]
        base = base[: MAX_NAME_CHARS - len(suffix)] + suffix
    return base
