"""A real HTTP server on 127.0.0.1 for the web tests: each path answers a fixed response,
and every request is recorded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class WebServer:
    url: str
    pages: dict[str, Page]
    requests: list[tuple[str, dict[str, str]]]  # path with query, headers


@contextmanager
def web_server(pages: dict[str, Page]) -> Iterator[WebServer]:
    requests: list[tuple[str, dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append((self.path, dict(self.headers)))
            page = pages.get(self.path.split("?")[0], Page(b"not found", "text/plain", 404))
            self.send_response(page.status)
            self.send_header("Content-Type", page.content_type)
            self.send_header("Content-Length", str(len(page.body)))
            for name, value in page.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(page.body)

        def log_message(self, *args: object) -> None:  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield WebServer(f"http://127.0.0.1:{server.server_address[1]}", pages, requests)
    finally:
        server.shutdown()
        server.server_close()
