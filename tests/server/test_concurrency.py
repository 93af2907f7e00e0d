"""Steps run off the event loop: many agents at once, one agent's requests in order."""

from __future__ import annotations

import threading
import time

import httpx

from tests.server.policies import SLOW_S


def _send(server, agent_id: str, text: str) -> None:
    httpx.post(
        f"{server.url}/v1/agents/{agent_id}/messages",
        json={"input": text},
        headers={"Authorization": f"Bearer {server.key_a}"},
        timeout=30,
    ).raise_for_status()


def test_many_agents_run_at_once(server, http_a):
    ids = [http_a.post("/v1/agents/", json={"name": f"c{i}"}).json()["id"] for i in range(8)]
    for agent_id in ids:  # opening an agent the first time is CPU work; time the waits only
        _send(server, agent_id, "hello")
    threads = [threading.Thread(target=_send, args=(server, i, "slow hello")) for i in ids]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - start < 8 * SLOW_S / 2


def test_one_agent_takes_requests_in_arrival_order(server, http_a):
    agent_id = http_a.post("/v1/agents/", json={"name": "queue"}).json()["id"]
    threads = []
    start = time.monotonic()
    for i in range(5):
        threads.append(threading.Thread(target=_send, args=(server, agent_id, f"slow {i}")))
        threads[-1].start()
        time.sleep(0.25)  # arrival order (the server shares this process, hence the margin)
    # The server keeps answering while the steps run.
    health_start = time.monotonic()
    assert http_a.get("/v1/health/").status_code == 200
    assert time.monotonic() - health_start < SLOW_S
    for t in threads:
        t.join()
    assert time.monotonic() - start >= 5 * SLOW_S
    listed = http_a.get(f"/v1/agents/{agent_id}/messages").json()
    users = [m["content"] for m in listed if m["message_type"] == "user_message"]
    assert users == [f"slow {i}" for i in range(5)]
