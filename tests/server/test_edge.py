"""Limits before work, on a real uvicorn server: a body is bounded and its sender
authenticated before it is read, connections that never finish a request are closed,
local mode answers only its own pages, and a 500 says it closes the connection."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.routing import APIRoute

from memgpt.server.app import create_app
from memgpt.server.connections import ConnectionLimits
from memgpt.server.settings import ServerSettings
from tests.server.conftest import POLICY
from tests.server.live import Live, live_server

LIMITS = ConnectionLimits(header_timeout_s=1.0, body_timeout_s=1.0, max_connections=20)
MB = 2**20


def _serve(tmp_path, *, anonymous: bool) -> Iterator[Live]:
    settings = ServerSettings(
        database=tmp_path / "memgpt.db", allow_anonymous=anonymous, model=POLICY, embedding="hash"
    )
    app = create_app(settings)

    def boom() -> None:
        raise RuntimeError("a bug")

    app.router.routes.insert(0, APIRoute("/boom", boom))  # a route with a bug, at the test edge
    with live_server(settings, LIMITS, app) as live:
        yield live


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    yield from _serve(tmp_path_factory.mktemp("edge"), anonymous=False)


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    yield from _serve(tmp_path_factory.mktemp("local"), anonymous=True)


def _rss() -> int:
    with open("/proc/self/status") as status:
        line = next(x for x in status if x.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def _post_huge(
    live: Live, headers: str, total: int, path: str = "/v1/agents/"
) -> tuple[bytes, int]:
    """POST `total` zero bytes (as much as the server takes); its answer, and the bytes sent."""
    sock = socket.create_connection(("127.0.0.1", live.port))
    sock.settimeout(10)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n"
    sock.sendall(head.encode())
    chunk, sent = b"0" * MB, 0
    chunked = "chunked" in headers
    try:
        while sent < total:
            sock.sendall(b"100000\r\n" + chunk + b"\r\n" if chunked else chunk)
            sent += MB
    except OSError:  # the server answered and closed without reading on
        pass
    answer = b""
    try:
        while data := sock.recv(65536):
            answer += data
    except OSError:
        pass
    sock.close()
    return answer, sent


@pytest.mark.parametrize(
    "headers, status",
    [
        ("Content-Type: application/json\r\nContent-Length: 314572800\r\n", b"401"),
        ("Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n", b"401"),
        ("Authorization: Bearer {key}\r\nContent-Length: 314572800\r\n", b"413"),
        ("Authorization: Bearer {key}\r\nTransfer-Encoding: chunked\r\n", b"413"),
    ],
)
def test_a_300_mb_body_costs_the_server_no_memory(live, headers, status):
    before = _rss()
    answer, _ = _post_huge(live, headers.format(key=live.key_a), 300 * MB)
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]
    assert _rss() - before < 20 * MB
    if status == b"413":
        assert b"over the server's 8,388,608-byte limit for JSON" in answer


def test_an_upload_without_a_key_is_refused_before_it_is_read(live):
    before = _rss()
    headers = "Content-Type: multipart/form-data; boundary=x\r\nTransfer-Encoding: chunked\r\n"
    answer, _ = _post_huge(live, headers, 300 * MB, "/v1/agents/import")
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert _rss() - before < 20 * MB


def test_a_body_within_the_limit_still_works(live):
    headers = {"Authorization": f"Bearer {live.key_a}"}
    name = "n" * (2 * MB)
    made = httpx.post(f"{live.url}/v1/agents/", json={"name": name}, headers=headers, timeout=30)
    assert made.status_code == 200 and made.json()["name"] == name


def _closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the server closes `sock`; fails past `seconds`."""
    start = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        pytest.fail(f"the connection was still open after {seconds} s")
    except ConnectionResetError:
        pass
    return time.monotonic() - start


@pytest.mark.parametrize(
    "sent",
    [
        b"",  # a silent connection
        b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n",  # headers never finished
        # a body never finished (from a caller with a key: without one it is a 401 at once)
        b"POST /v1/agents/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        b"Content-Length: 100\r\n\r\n{{",
    ],
)
def test_a_request_never_finished_is_closed_within_its_timeout(live, sent):
    with socket.create_connection(("127.0.0.1", live.port)) as sock:
        sock.sendall(sent.decode().format(key=live.key_a).encode())
        assert _closed_within(sock, LIMITS.header_timeout_s + 2) >= 0.5


def test_headers_sent_slowly_are_closed_at_the_header_deadline(live):
    request = b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
    with socket.create_connection(("127.0.0.1", live.port)) as sock:
        start = time.monotonic()
        try:
            for byte in request:  # a byte every 0.3 s: each arrives well within any idle timeout
                sock.sendall(bytes([byte]))
                readable, _, _ = select.select([sock], [], [], 0.3)
                if readable and sock.recv(1) == b"":
                    break
        except OSError:
            pass
        assert time.monotonic() - start < LIMITS.header_timeout_s + 1.5


def test_connections_past_the_cap_are_closed_at_once(live):
    sockets = [socket.create_connection(("127.0.0.1", live.port)) for _ in range(25)]
    try:
        time.sleep(0.3)
        closed = 0
        for sock in sockets:
            try:
                closed += sock.recv(1, socket.MSG_DONTWAIT) == b""
            except BlockingIOError:
                pass
            except ConnectionResetError:
                closed += 1
        assert closed >= 5
    finally:
        for sock in sockets:
            sock.close()
    time.sleep(LIMITS.header_timeout_s + 0.5)  # the rest were closed at their deadline
    assert httpx.get(f"{live.url}/v1/health").status_code == 200


def test_a_500_says_it_closes_the_connection(live):
    with httpx.Client(base_url=live.url) as client:
        failed = client.get("/boom")
        assert failed.status_code == 500 and failed.headers["connection"] == "close"
        assert client.get("/v1/health").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "attacker.example"},
        {"Host": "attacker.example:8283"},
        {"Host": "127.0.0.1.nip.io"},
        {"Origin": "http://attacker.example"},
        {"Origin": "null"},
    ],
)
def test_local_mode_refuses_a_foreign_host_or_origin(local, headers):
    listed = httpx.get(f"{local.url}/v1/agents/", headers=headers)
    assert listed.status_code == 403, listed.text
    files = {"file": ("a.af", b"{}", "application/json")}
    imported = httpx.post(f"{local.url}/v1/agents/import", headers=headers, files=files)
    assert imported.status_code == 403 and "without an API key" in imported.json()["detail"]


def test_local_mode_serves_its_own_page(local):
    own = {"Origin": local.url}
    assert httpx.get(f"{local.url}/v1/agents/", headers=own).status_code == 200
    localhost = {"Host": f"localhost:{local.port}"}
    assert httpx.get(f"{local.url}/v1/agents/", headers=localhost).status_code == 200
    assert httpx.get(f"{local.url}/", headers=localhost).status_code == 200


def test_with_keys_there_is_no_cross_origin_access(live):
    """Authenticated mode's CORS policy: none. No header lets another origin's page read
    an answer, and a preflight is not approved."""
    origin = {"Origin": "http://elsewhere.example", "Authorization": f"Bearer {live.key_a}"}
    answer = httpx.get(f"{live.url}/v1/agents/", headers=origin)
    assert "access-control-allow-origin" not in answer.headers
    preflight = httpx.options(
        f"{live.url}/v1/agents/",
        headers={**origin, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
