"""One organization's large agent-file import does not stall another's messages (the
import writes in short transactions that other writers interleave with), and takes only
its organization's share of the import pool: a second import of theirs meanwhile is a 429,
another organization's is served."""

from __future__ import annotations

import itertools
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx

from memgpt.schemas import utcnow
from memgpt.server.settings import ServerSettings
from tests.server.live import live_server

MESSAGES = 20_000  # about 8 MB: an import of some seconds on this kind of machine


def _large_file(http: httpx.Client) -> bytes:
    """A real export whose history is padded to MESSAGES messages."""
    agent_id = http.post("/v1/agents/", json={"name": "big"}).json()["id"]
    data = http.get(f"/v1/agents/{agent_id}/export").json()
    start = utcnow() - timedelta(days=30)
    agent = data["agents"][0]
    agent["messages"] = agent["messages"][:1] + [
        {
            "role": "user",
            "event": "user_message",
            "content": [{"type": "text", "text": f"message {i}: " + "words to recall " * 15}],
            "created_at": (start + timedelta(seconds=i)).isoformat(),
            "in_context": i >= MESSAGES - 10,
        }
        for i in range(MESSAGES)
    ]
    return json.dumps(data).encode()


def _latencies(
    http: httpx.Client, agent_ids: list[str], until: threading.Event | None
) -> list[float]:
    """Latencies of messages sent every 100 ms, to each agent in turn, whether or not the
    earlier ones have been answered (a stall delays every message sent during it, not just
    the one waiting): `len(agent_ids)` of them, or as many as fit before `until` is set."""

    def send(agent_id: str) -> float:
        start = time.perf_counter()
        http.post(f"/v1/agents/{agent_id}/messages", json={"input": "hi"}).raise_for_status()
        return time.perf_counter() - start

    sent = []
    t0 = time.monotonic()
    with ThreadPoolExecutor(64) as senders:
        for i in itertools.count():
            if until is None and i == len(agent_ids) or until is not None and until.is_set():
                break
            time.sleep(max(0.0, t0 + 0.1 * i - time.monotonic()))
            sent.append(senders.submit(send, agent_ids[i % len(agent_ids)]))
        return [s.result() for s in sent]


def test_a_large_import_from_one_org_leaves_another_orgs_messages_alone(tmp_path):
    settings = ServerSettings(
        database=tmp_path / "memgpt.db",
        model="scripted/tests.server.policies:instant",
        embedding="hash",
    )
    with live_server(settings) as live:
        a = httpx.Client(
            base_url=live.url, headers={"Authorization": f"Bearer {live.key_a}"}, timeout=60
        )
        b = httpx.Client(
            base_url=live.url, headers={"Authorization": f"Bearer {live.key_b}"}, timeout=60
        )
        with a, b:
            body = _large_file(b)
            ids = [a.post("/v1/agents/", json={"name": f"a{i}"}).json()["id"] for i in range(10)]
            _latencies(a, ids, None)  # warm: each agent opens once
            idle = statistics.median(_latencies(a, ids, None) + _latencies(a, ids, None))
            a_file = a.get(f"/v1/agents/{ids[0]}/export").json()
            done = threading.Event()
            answer: list[httpx.Response] = []

            def upload() -> None:
                files = {"file": ("big.af", body, "application/json")}
                answer.append(b.post("/v1/agents/import", files=files, timeout=300))
                done.set()

            importer = threading.Thread(target=upload)
            started = time.monotonic()
            importer.start()
            time.sleep(1.0)  # the upload has arrived; its import is running
            small = {"file": ("small.af", json.dumps(a_file).encode(), "application/json")}
            again = b.post("/v1/agents/import", files=small)
            assert again.status_code == 429 and again.headers["retry-after"] == "5"
            assert a.post("/v1/agents/import", files=small).status_code == 200
            during = _latencies(a, ids, done)
            importer.join()
            took = time.monotonic() - started
            assert answer[0].status_code == 200, answer[0].text
            (new_id,) = answer[0].json()["agent_ids"]
            listed = b.get(f"/v1/agents/{new_id}/messages", params={"limit": 5}).json()
    busy = statistics.median(during)
    print(
        json.dumps(
            {
                "import_s": round(took, 2),
                "file_mb": round(len(body) / 2**20, 1),
                "idle_p50_ms": round(idle * 1000, 1),
                "during_p50_ms": round(busy * 1000, 1),
                "during_max_ms": round(max(during) * 1000, 1),
                "messages_during": len(during),
            }
        )
    )
    assert len(listed) == 5
    assert len(during) >= 10  # the import lasted long enough to measure
    assert busy < 2 * idle + 0.005
