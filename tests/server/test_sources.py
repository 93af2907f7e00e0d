"""Uploads at the edges: oversized bodies get 413 before they are read, client file names
cannot leave the upload's folder, and bodies that are not a file upload get 400."""

from __future__ import annotations

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from memgpt.server.app import create_app
from memgpt.server.settings import ServerSettings
from memgpt.server.uploads import MAX_NAME_CHARS, safe_file_name
from tests.server.conftest import POLICY

LIMIT = 1000


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = ServerSettings(
        database=tmp_path_factory.mktemp("uploads") / "db",
        allow_anonymous=True,
        model=POLICY,
        embedding="hash",
        max_upload_bytes=LIMIT,
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture(scope="module")
def source_id(client):
    return client.post("/v1/folders/", json={"name": "docs"}).json()["id"]


def test_an_upload_over_the_limit_is_413(client, source_id):
    big = ("big.txt", b"x" * (LIMIT * 40), "text/plain")
    response = client.post(f"/v1/sources/{source_id}/upload", files={"file": big})
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert client.get(f"/v1/sources/{source_id}/files").json() == []


def test_an_upload_without_a_declared_length_is_cut_off_at_the_limit(client, source_id):
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()

    def body():  # a generator: sent chunked, with no Content-Length
        yield head
        for _ in range(40):
            yield b"x" * LIMIT
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post(
        f"/v1/folders/{source_id}/upload",
        content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413


def test_a_file_just_under_the_limit_is_taken(client, source_id):
    text = ("word " * (LIMIT // 5))[: LIMIT - 1].encode()
    response = client.post(
        f"/v1/sources/{source_id}/upload", files={"file": ("fits.txt", text, "text/plain")}
    )
    assert response.status_code == 200, response.text
    assert response.json()["file_size"] == len(text)


def test_a_body_that_is_not_a_file_upload_is_400(client, source_id):
    assert client.post(f"/v1/sources/{source_id}/upload", json={"x": 1}).status_code == 400
    no_file = client.post(f"/v1/sources/{source_id}/upload", files={"other": ("a.txt", b"a")})
    assert no_file.status_code == 400 and "'file'" in no_file.json()["detail"]


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("notes.txt", "notes.txt"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("/abs/path/x.md", "x.md"),
        ("a\x00b\nc.txt", "abc.txt"),
        ("dir/..", None),
        ("..", None),
        ("", None),
        (None, None),
    ],
)
def test_file_names_cannot_leave_the_upload_folder(given, kept):
    if kept is None:
        with pytest.raises(HTTPException) as refused:
            safe_file_name(given)
        assert refused.value.status_code == 400
    else:
        assert safe_file_name(given) == kept


def test_a_long_file_name_keeps_its_extension():
    name = safe_file_name("n" * 1000 + ".pdf")
    assert len(name) == MAX_NAME_CHARS and name.endswith(".pdf")
