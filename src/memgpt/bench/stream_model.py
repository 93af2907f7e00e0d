"""A model endpoint for `memgpt bench server --streaming`: an OpenAI-compatible server on
loopback that streams one send_message call in small pieces at a steady pace, so time to
first token can be told apart from the time to the whole reply."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPLY = "This reply streams in small pieces, so the first of them can be timed."
PIECE_CHARS = 8


class StreamingModel:
    def __init__(self, piece_delay_s: float = 0.01):
        self.piece_delay_s = piece_delay_s
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> StreamingModel:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def chunks(self) -> list[dict[str, Any]]:
        arguments = json.dumps({"inner_thoughts": "Replying.", "message": REPLY})
        pieces = [arguments[i : i + PIECE_CHARS] for i in range(0, len(arguments), PIECE_CHARS)]
        call = {"index": 0, "id": "call_1", "type": "function"}
        deltas = [{"tool_calls": [{**call, "function": {"name": "send_message", "arguments": ""}}]}]
        deltas += [{"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in pieces]
        out = [{"choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
        out.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
        usage = {"prompt_tokens": 1, "completion_tokens": len(pieces), "total_tokens": 1}
        out.append({"choices": [], "usage": {**usage, "total_tokens": 1 + len(pieces)}})
        return [
            {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m", **c}
            for c in out
        ]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        model = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                for chunk in model.chunks():
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    time.sleep(model.piece_delay_s)
                self.wfile.write(b"data: [DONE]\n\n")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
