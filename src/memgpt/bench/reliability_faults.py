"""Faulty models: an OpenAI-compatible endpoint that answers with a seeded random mix of faults.

It is a real HTTP server on 127.0.0.1, spoken to through the real `openai` SDK (via
`memgpt.llm.openai_compat`), so retries, timeouts and body parsing are the SDK's own.
Faults: invalid JSON arguments, unknown functions, wrong argument types, missing
arguments, huge outputs, empty replies, replies with no function call, bodies cut short
or garbled, text with lone surrogates, answers slower than the client's timeout, and
HTTP 429/500/503. Summarizer requests (no tools offered) get faults too.

Checked per event: no exception escapes `agent.send` (a faulty model is never the
user's fault, so not even a MemGPTError may), each bad call comes back to the model as a
failed function result or a system alert, an exhausted error ends the event with the
`llm_error` stop reason and a sentence, and no call is attempted more than
1 + max_retries times, each retry waiting at least the server's retry-after.
"""

from __future__ import annotations

import json
import random
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from memgpt.client import MemGPT
from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.openai_compat import OpenAIChat
from memgpt.schemas import EmbeddingConfig, LLMConfig, Message, Response, StopReason

TIMEOUT_S = 0.25  # the client's timeout; "slow" answers take longer
MAX_RETRIES = 2
RETRY_AFTER_MS = 5
HUGE_CHARS = 200_000

# Fault name -> weight. "ok_*" are well-formed replies, so chains also end normally.
FAULTS: dict[str, float] = {
    "ok_send": 14,
    "ok_heartbeat": 6,
    "invalid_json": 6,
    "unknown_function": 5,
    "wrong_types": 5,
    "missing_args": 5,
    "huge_output": 3,
    "empty_choices": 4,
    "empty_message": 4,
    "no_send": 5,
    "multiple_calls": 3,
    "truncated_body": 4,
    "garbled_body": 4,
    "not_a_completion": 3,
    "lone_surrogate": 3,
    "slow": 1,
    "http_429": 4,
    "http_500": 4,
    "http_503": 4,
}
# Bad calls the agent runs and must answer with a failed function result.
BAD_CALLS = {"invalid_json", "unknown_function", "wrong_types", "missing_args", "multiple_calls"}
NO_CALL = {"empty_message", "no_send", "empty_choices"}


@dataclass
class Attempt:
    fault: str
    retry_count: int
    arrived: float
    answered: float = 0.0


@dataclass
class FaultyOpenAIServer:
    """Serves POST /v1/chat/completions; each answer is a fault drawn from a seeded RNG."""

    seed: int
    attempts: list[Attempt] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._ids = 0
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> FaultyOpenAIServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        assert self._httpd is not None
        self._httpd.shutdown()
        self._httpd.server_close()

    def _draw(self, retry_count: int) -> tuple[str, str]:
        with self._lock:
            fault = self._rng.choices(list(FAULTS), weights=list(FAULTS.values()))[0]
            self._ids += 1
            self.attempts.append(Attempt(fault, retry_count, time.monotonic()))
            return fault, f"call_{fault}_{self._ids}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                retry_count = int(self.headers.get("x-stainless-retry-count", "0"))
                fault, call_id = server._draw(retry_count)
                attempt = server.attempts[-1]
                status, body = answer(fault, call_id, request, server._closing)
                attempt.answered = time.monotonic()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    if status >= 400:
                        self.send_header("retry-after-ms", str(RETRY_AFTER_MS))
                    length = len(body) * 2 if fault == "truncated_body" else len(body)
                    self.send_header("content-length", str(length))
                    if fault == "truncated_body":
                        self.send_header("connection", "close")
                    self.end_headers()
                    self.wfile.write(body)
                    if fault == "truncated_body":
                        self.close_connection = True
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out first

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _completion(message: dict[str, Any], finish: str = "stop") -> bytes:
    body = {
        "id": "chatcmpl-fault",
        "object": "chat.completion",
        "created": 0,
        "model": "faulty",
        "choices": [
            {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    return json.dumps(body).encode()


def _tool_reply(*calls: dict[str, Any]) -> bytes:
    return _completion({"content": None, "tool_calls": list(calls)}, "tool_calls")


def answer(
    fault: str, call_id: str, request: dict[str, Any], closing: threading.Event
) -> tuple[int, bytes]:
    """(HTTP status, body) for one request under `fault`."""
    if fault.startswith("http_"):
        status = int(fault[5:])
        return status, json.dumps(
            {"error": {"message": f"injected {status}", "code": status}}
        ).encode()
    if fault == "slow":
        closing.wait(TIMEOUT_S * 4)
    summarizer = not request.get("tools")
    if fault == "empty_choices":
        return 200, json.dumps(
            {"id": "x", "object": "chat.completion", "created": 0, "model": "f", "choices": []}
        ).encode()
    if fault == "empty_message":
        return 200, _completion({"content": None})
    if fault == "huge_output":
        text = "huge " * (HUGE_CHARS // 5)
        if summarizer:
            return 200, _completion({"content": text})
        args = json.dumps({"inner_thoughts": text, "message": text})
        return 200, _tool_reply(_call(call_id, "send_message", args))
    if fault in ("truncated_body", "garbled_body"):
        whole = _completion({"content": "a reply"})
        return 200, whole[: len(whole) // 2] if fault == "truncated_body" else b"\x00\xff{" + whole[
            ::-1
        ]
    if fault == "not_a_completion":
        return 200, b'{"unexpected": ["this is", "not a chat completion"]}'
    if fault == "lone_surrogate":
        # A JSON escape for half a surrogate pair decodes to a str that is not valid UTF-8.
        raw = _completion({"content": "broken \\ud800 text"}).replace(b"\\\\ud800", b"\\ud800")
        if summarizer:
            return 200, raw
        args = json.dumps({"inner_thoughts": "x", "message": "hi"}).replace("x", "\\udc00")
        body = _completion(
            {"content": "thinking \\ud83d", "tool_calls": [_call(call_id, "send_message", args)]},
            "tool_calls",
        )
        return 200, body.replace(b"\\\\ud83d", b"\\ud83d").replace(b"\\\\udc00", b"\\udc00")
    if summarizer:
        return 200, _completion({"content": "Summary: the user and the agent talked."})
    if fault == "no_send":
        return 200, _completion(
            {"content": "I will just think out loud instead of calling a function."}
        )
    if fault == "invalid_json":
        return 200, _tool_reply(_call(call_id, "send_message", '{"message": "unterminated'))
    if fault == "unknown_function":
        return 200, _tool_reply(_call(call_id, "launch_rockets", '{"count": 3}'))
    if fault == "wrong_types":
        args = {"label": ["not", "a", "string"], "content": {"x": 1}, "request_heartbeat": "maybe"}
        return 200, _tool_reply(_call(call_id, "core_memory_append", json.dumps(args)))
    if fault == "missing_args":
        return 200, _tool_reply(_call(call_id, "core_memory_replace", '{"label": "human"}'))
    if fault == "multiple_calls":
        ok = json.dumps({"inner_thoughts": "two at once", "message": "first"})
        return 200, _tool_reply(
            _call(call_id, "send_message", ok), _call(call_id + "b", "send_message", ok)
        )
    if fault == "ok_heartbeat":
        args = {
            "inner_thoughts": "noting",
            "label": "human",
            "content": "likes tests",
            "request_heartbeat": True,
        }
        return 200, _tool_reply(_call(call_id, "core_memory_append", json.dumps(args)))
    return 200, _tool_reply(
        _call(call_id, "send_message", json.dumps({"inner_thoughts": "ok", "message": "hello"}))
    )


def _failure_visible(messages: list[Message], stopped_on_failures: bool) -> list[str]:
    """Bad outputs the agent let pass silently. Each must come back to the model as a failed
    result (bad calls) or a system alert (no call), except the last one of an event that
    stopped with `invalid_function_call`, which the stop reason reports instead."""
    problems = []
    replies = [i for i, m in enumerate(messages) if m.role == "assistant"]
    for i in replies:
        message, later = messages[i], messages[i + 1 :]
        if stopped_on_failures and i == replies[-1]:
            continue
        if not message.tool_calls:
            if not later or later[0].event != "system_alert":
                problems.append("a reply without a function call got no system alert")
            continue
        fault = next(
            (f for f in BAD_CALLS if message.tool_calls[0].id.startswith(f"call_{f}_")), None
        )
        if fault is not None:
            last_id = message.tool_calls[-1].id
            results = [m for m in later if m.role == "tool" and m.tool_call_id == last_id]
            if not results or json.loads(results[0].text)["status"] != "Failed":
                problems.append(f"{fault}: the model was not shown a failed result")
    return problems


def _check_response(response: Response) -> list[str]:
    stopped = response.stop_reason == StopReason.INVALID_FUNCTION_CALL
    problems = _failure_visible(response.messages, stopped)
    if response.stop_reason == StopReason.LLM_ERROR and not response.error:
        problems.append("an llm_error stop without a sentence saying why")
    return problems


def run(steps: int, seed: int = 0, workdir: Path | None = None) -> dict[str, Any]:
    """Send events to an agent behind the faulty endpoint until `steps` steps have run."""
    with tempfile.TemporaryDirectory() as tmp, FaultyOpenAIServer(seed) as server:
        root = workdir or Path(tmp)
        client = MemGPT(root / "faults.db")
        config = LLMConfig(
            provider="openai",
            model="faulty-model",
            base_url=server.base_url,
            context_window=8192,
            timeout_s=TIMEOUT_S,
        )
        llm = OpenAIChat(config, max_retries=MAX_RETRIES)
        agent = client.create_agent(
            "faulty", llm=llm, embedding=EmbeddingConfig(provider="hash"), embedder=HashEmbedder()
        )
        done, events_sent, crashes, violations = 0, 0, [], []
        stops: Counter[str] = Counter()
        while done < steps:
            events_sent += 1
            try:
                response = agent.send(f"message {events_sent}: please answer")
            except Exception as exc:  # the figure this harness exists to keep at 0
                crashes.append(f"{type(exc).__name__}: {exc}"[:300])
                agent = client.get_agent("faulty", llm=llm, embedder=HashEmbedder())
                done += 1
                continue
            done += response.steps
            stops[str(response.stop_reason)] += 1
            violations += _check_response(response)
        if agent.store.integrity_check() != "ok":
            violations.append("integrity_check failed")
        client.close()
    attempts = server.attempts
    retry_gaps = [
        (b.arrived - a.answered) * 1000
        for a, b in zip(attempts, attempts[1:], strict=False)
        if b.retry_count > 0 and a.fault.startswith("http_")
    ]
    return {
        "steps": done,
        "events": events_sent,
        "requests": len(attempts),
        "crashes": len(crashes),
        "crash_examples": crashes[:5],
        "violations": len(violations),
        "violation_examples": violations[:5],
        "stop_reasons": dict(sorted(stops.items())),
        "faults_injected": dict(sorted(Counter(a.fault for a in attempts).items())),
        "max_attempts_per_call": 1 + max((a.retry_count for a in attempts), default=0),
        "retry_bound": 1 + MAX_RETRIES,
        "min_retry_gap_ms": round(min(retry_gaps), 2) if retry_gaps else None,
        "retry_after_ms": RETRY_AFTER_MS,
    }
