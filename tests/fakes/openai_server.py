"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat completions wire format.

Tests script it with a policy, `policy(request_json) -> spec`, where spec is one of

- a reply: {"content": str | None, "tool_calls": [{"name": ..., "arguments": str}],
  optional "finish_reason", optional "usage": {"prompt_tokens": .., "completion_tokens": ..}}
- an error: {"status": 429, "message": "..."} (401, 404, 429, 500, ... as the real API sends them)
- either of them plus "delay_s": seconds to wait before answering (for timeouts).

    with FakeOpenAIServer(lambda req: {"content": "hi"}) as server:
        config = LLMConfig(base_url=server.base_url, ...)
        ...
        assert server.requests[0]["messages"][-1]["content"] == "hello"

Error answers carry `retry-after-ms: 1` so the SDK's retries are real but fast. A
policy that raises (or a `script` that runs out) answers 500 with `x-should-retry:
false`, and the exception is kept in `server.failures` for the test to re-raise.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import pytest

Spec = dict[str, Any]
Policy = Callable[[dict[str, Any]], Spec]


def script(*specs: Spec) -> Policy:
    """A policy answering with `specs` in order, one per request; an extra request fails."""
    pending = iter(specs)

    def policy(request: dict[str, Any]) -> Spec:
        try:
            return next(pending)
        except StopIteration:
            raise AssertionError(f"unexpected extra request: {request}") from None

    return policy


class FakeHTTPServer:
    """Runs a JSON-over-HTTP fake in a thread; subclasses render the provider's wire format."""

    path = "/"
    url_suffix = ""
    named_events = False  # whether each streamed chunk goes with an `event:` line (its type)

    def __init__(self, policy: Policy):
        self.policy = policy
        self.requests: list[dict[str, Any]] = []
        self.gets: list[str] = []  # paths of GET requests (model listings)
        self.headers: list[dict[str, str]] = []  # of every request, GET or POST, in order
        self.models: list[str] = []  # what a model listing answers
        self.last_spec: Spec = {}
        self.stream_ended_at: float | None = None  # time.monotonic() of a stream's end
        self.failures: list[BaseException] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._ids = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "start the server first (use it as a context manager)"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{self.url_suffix}"

    def __enter__(self) -> Self:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closing.set()  # wakes handlers sleeping on delay_s
        assert self._httpd is not None and self._thread is not None
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def next_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}"

    def render(self, request: dict[str, Any], spec: Spec) -> dict[str, Any]:
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        raise NotImplementedError

    def listing(self, path: str) -> dict[str, Any] | None:
        """The answer to GET `path`, or None for 404."""
        return None

    def chunks(self, rendered: dict[str, Any]) -> list[dict[str, Any]]:
        """A rendered reply as the stream of chunks that adds up to it."""
        raise NotImplementedError

    def _answer(self, request: dict[str, Any]) -> tuple[int, dict[str, Any] | bytes, bool]:
        """(status, body, whether the client may retry)."""
        try:
            spec = self.policy(request)
            self.last_spec = spec
        except Exception as e:
            self.failures.append(e)
            return 500, self.error_body(500, f"fake server policy failed: {e!r}"), False
        if spec.get("delay_s"):
            self._closing.wait(spec["delay_s"])
        if "status" in spec:
            status = spec["status"]
            return status, self.error_body(status, spec.get("message", f"HTTP {status}")), True
        if "raw_body" in spec:
            return 200, spec["raw_body"], True
        return 200, self.render(request, spec), True

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.gets.append(self.path)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                listing = server.listing(self.path.split("?")[0])
                if listing is None:
                    self._send(404, server.error_body(404, f"no route {self.path}"))
                else:
                    self._send(200, listing)

            def do_POST(self) -> None:
                if self.path.split("?")[0] != server.path:
                    self._send(404, server.error_body(404, f"no route {self.path}"))
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                with server._lock:
                    server.requests.append(body)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                status, payload, retry = server._answer(body)
                if body.get("stream") and status == 200 and isinstance(payload, dict):
                    self._stream(server.chunks(payload), server.last_spec)
                else:
                    self._send(status, payload, retry)

            def _stream(self, chunks: list[dict[str, Any]], spec: Spec) -> None:
                """Server-sent events, `chunk_delay_s` apart; `cut_after` N chunks drops
                the connection mid-reply."""
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                try:
                    for i, chunk in enumerate(chunks):
                        if i == spec.get("cut_after"):
                            self.wfile.flush()
                            self.connection.shutdown(2)  # mid-reply, no [DONE]
                            return
                        named = f"event: {chunk['type']}\n" if server.named_events else ""
                        self.wfile.write(f"{named}data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                        server._closing.wait(spec.get("chunk_delay_s", 0))
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError, OSError):
                    return
                finally:
                    server.stream_ended_at = time.monotonic()

            def _send(
                self, status: int, payload: dict[str, Any] | bytes, retry: bool = True
            ) -> None:
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    if status >= 400:
                        self.send_header("retry-after-ms", "1")
                    if not retry:
                        self.send_header("x-should-retry", "false")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test) before we answered

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler


def _word_count(value: Any) -> int:
    return len(json.dumps(value).split()) if value is not None else 0


class FakeOpenAIServer(FakeHTTPServer):
    """POST /v1/chat/completions; `base_url` ends in /v1 as the SDK expects."""

    path = "/v1/chat/completions"
    url_suffix = "/v1"

    def render(self, request: dict[str, Any], spec: Spec) -> dict[str, Any]:
        tool_calls = [
            {
                "id": call.get("id") or self.next_id("call"),
                "type": "function",
                "function": {"name": call["name"], "arguments": call["arguments"]},
            }
            for call in spec.get("tool_calls", [])
        ]
        message: dict[str, Any] = {"role": "assistant", "content": spec.get("content")}
        if tool_calls:
            message["tool_calls"] = tool_calls
        # Deterministic usage, so tests can check it is passed through.
        usage = spec.get("usage") or {
            "prompt_tokens": _word_count(request.get("messages")),
            "completion_tokens": _word_count(message),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return {
            "id": self.next_id("chatcmpl"),
            "object": "chat.completion",
            "created": 0,
            "model": request.get("model", ""),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": spec.get(
                        "finish_reason", "tool_calls" if tool_calls else "stop"
                    ),
                }
            ],
            "usage": usage,
        }

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"error": {"message": message, "type": "fake_error", "code": status}}

    def chunks(self, rendered: dict[str, Any]) -> list[dict[str, Any]]:
        """Content and each call's arguments in pieces of 6 characters, then the finish
        reason, then the usage, as OpenAI streams with include_usage."""
        choice = rendered["choices"][0]
        message = choice["message"]

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": rendered["id"],
                "object": "chat.completion.chunk",
                "created": 0,
                "model": rendered["model"],
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        out = [chunk({"role": "assistant"})]
        text = message.get("content") or ""
        out += [chunk({"content": text[i : i + 6]}) for i in range(0, len(text), 6)]
        for index, call in enumerate(message.get("tool_calls", [])):
            head = {"index": index, "id": call["id"], "type": "function"}
            out.append(
                chunk(
                    {
                        "tool_calls": [
                            {
                                **head,
                                "function": {"name": call["function"]["name"], "arguments": ""},
                            }
                        ]
                    }
                )
            )
            args = call["function"]["arguments"]
            out += [
                chunk(
                    {"tool_calls": [{"index": index, "function": {"arguments": args[i : i + 6]}}]}
                )
                for i in range(0, len(args), 6)
            ]
        out.append(chunk({}, choice["finish_reason"]))
        usage = {k: v for k, v in rendered.items() if k in ("id", "model")}
        out.append(
            {
                **usage,
                "object": "chat.completion.chunk",
                "created": 0,
                "choices": [],
                "usage": rendered["usage"],
            }
        )
        return out

    def listing(self, path: str) -> dict[str, Any] | None:
        if path != "/v1/models":
            return None
        return {"object": "list", "data": [{"id": m, "object": "model"} for m in self.models]}


@pytest.fixture
def fake_openai() -> Iterator[Callable[[Policy], FakeOpenAIServer]]:
    """Starts FakeOpenAIServers for a test (`server = fake_openai(policy)`) and stops them after."""
    servers: list[FakeOpenAIServer] = []

    def start(policy: Policy) -> FakeOpenAIServer:
        server = FakeOpenAIServer(policy)
        server.__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)
        if server.failures:
            raise server.failures[0]
