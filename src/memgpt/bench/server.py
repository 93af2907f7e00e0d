"""`python -m memgpt.bench.server`: the server's own costs with an instant scripted model.

Starts `python -m memgpt.server` on a fresh database and prints JSON: cold start to the
first healthy response (after one untimed start has compiled the modules:
`common.bytecode_cache`), message round trip (median and p90 over N messages), and the
server's resident memory after them. With `--streaming N`, also N token-streamed messages
to a model that streams its reply in small pieces (`memgpt.bench.stream_model`): time to
the first piece of the reply against time to the whole of it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import httpx

from memgpt.bench.common import bytecode_cache, percentile

INSTANT = "scripted/memgpt.bench.server:instant"


def instant(messages, functions):
    """The scripted model: one send_message at once, so only the server is timed."""
    from memgpt.llm.scripted import call

    return call("send_message", "Reply.", message="hi")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(
    home: str | Path,
    database: str | Path,
    port: int,
    stderr: IO[str] | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """`python -m memgpt.server` on loopback with hash embeddings and the instant model,
    unless `env` names another (MEMGPT_MODEL); its compiled modules are kept in `home`."""
    command = [sys.executable, "-m", "memgpt.server", "--port", str(port), "--no-auth"]
    command += ["--database", str(database), "--embedding", "hash", "--log-level", "warning"]
    if not (env and "MEMGPT_MODEL" in env):
        command += ["--model", INSTANT]
    env = bytecode_cache(
        {**os.environ, **(env or {}), "MEMGPT_HOME": str(home)}, f"{home}/bytecode"
    )
    return subprocess.Popen(command, env=env, stderr=stderr)


def wait_healthy(client: httpx.Client, server: subprocess.Popen) -> None:
    while server.poll() is None:
        try:
            if client.get("/v1/health/").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.01)
    raise RuntimeError(f"the server exited with status {server.returncode} before it was healthy")


def _start_once(home: str) -> None:
    """Untimed, on a database and port of their own: fills the bytecode cache."""
    port = free_port()
    server = start(home, f"{home}/first.db", port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_healthy(client, server)
    finally:
        server.terminate()
        server.wait(10)


def run(messages: int = 100) -> dict[str, float]:
    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        _start_once(home)
        start_time = time.perf_counter()
        server = start(home, f"{home}/memgpt.db", port)
        try:
            url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=url, timeout=30) as client:
                wait_healthy(client, server)
                cold_start = time.perf_counter() - start_time
                agent_id = client.post("/v1/agents/", json={"name": "bench"}).json()["id"]
                times = []
                for i in range(messages):
                    t = time.perf_counter()
                    client.post(
                        f"/v1/agents/{agent_id}/messages", json={"input": f"hello {i}"}
                    ).raise_for_status()
                    times.append(time.perf_counter() - t)
            return {
                "cold_start_s": round(cold_start, 3),
                "round_trip_median_ms": round(1000 * statistics.median(times), 1),
                "round_trip_p90_ms": round(1000 * percentile(times, 90), 1),
                "rss_mb": round(_rss_mb(server.pid), 1),
                "messages": messages,
            }
        finally:
            server.terminate()
            server.wait(10)


def run_streaming(messages: int) -> dict[str, float]:
    from memgpt.bench.stream_model import StreamingModel

    port = free_port()
    with tempfile.TemporaryDirectory() as home, StreamingModel() as model:
        env = {"MEMGPT_MODEL": "openai/bench-stream", "MEMGPT_BASE_URL": model.base_url}
        server = start(home, f"{home}/memgpt.db", port, env=env)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                wait_healthy(client, server)
                agent_id = client.post("/v1/agents/", json={"name": "bench"}).json()["id"]
                first, whole = [], []
                for i in range(messages):
                    body = {"input": f"hello {i}", "stream_tokens": True}
                    t, seen = time.perf_counter(), None
                    url = f"/v1/agents/{agent_id}/messages/stream"
                    with client.stream("POST", url, json=body) as response:
                        for line in response.iter_lines():
                            if seen is None and '"assistant_message"' in line:
                                seen = time.perf_counter() - t
                    if seen is None:
                        raise RuntimeError("the streamed reply had no assistant message")
                    first.append(seen)
                    whole.append(time.perf_counter() - t)
            return {
                "first_token_median_ms": round(1000 * statistics.median(first), 1),
                "first_token_p90_ms": round(1000 * percentile(first, 90), 1),
                "whole_reply_median_ms": round(1000 * statistics.median(whole), 1),
                "model_stream_ms": round(1000 * model.piece_delay_s * len(model.chunks()), 1),
                "streamed_messages": messages,
            }
        finally:
            server.terminate()
            server.wait(10)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="memgpt bench server")
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument(
        "--streaming", type=int, default=0, metavar="N", help="also N token-streamed messages"
    )
    args = parser.parse_args(argv)
    if args.messages < 1 or args.streaming < 0:
        parser.error("--messages must be at least 1 and --streaming at least 0")
    figures = run(args.messages)
    if args.streaming:
        figures |= run_streaming(args.streaming)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
