"""Steps run off the event loop: many agents at once, one agent's requests in order."""

from __future__ import annotations

import threading
import time

import httpx

from tests.server import policies
from tests.server.policies import SLOW_S


def _send(server, agent_id: str, text: str) -> None:
    httpx.post(
        f"{server.url}/v1/agents/{agent_id}/messages",
        json={"input": text},
        headers={"Authorization": f"Bearer {server.key_a}"},
        timeout=30,
    ).raise_for_status()


def test_many_agents_run_at_once(server, http_a, monkeypatch):
    """Each agent's step waits until all eight are in flight: they meet only if the server
    runs them at once (no wall-clock bound, so a loaded machine cannot fail it)."""
    ids = [http_a.post("/v1/agents/", json={"name": f"c{i}"}).json()["id"] for i in range(8)]
    monkeypatch.setattr(policies, "MEETING", threading.Barrier(len(ids)))
    threads = [threading.Thread(target=_send, args=(server, i, "meet here")) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not policies.MEETING.broken
    for agent_id in ids:
        listed = http_a.get(f"/v1/agents/{agent_id}/messages").json()
        assert "echo: meet here" in [m.get("content") for m in listed]


def _waiting(server, agent_id: str) -> int:
    """Requests queued for the agent's turn (behind the one holding it)."""
    turn = server.app.state.steps._turns.get(agent_id)
    return len(turn._waiters or ()) if turn is not None else 0


def test_one_agent_takes_requests_in_arrival_order(server, http_a):
    """The first request holds the agent; each next one is sent once the one before it is
    queued, so the arrival order is known whatever the machine's load."""
    agent_id = http_a.post("/v1/agents/", json={"name": "queue"}).json()["id"]
    policies.HOLDING.clear()
    policies.RELEASED.clear()
    threads = [threading.Thread(target=_send, args=(server, agent_id, "hold 0"))]
    threads[0].start()
    try:
        assert policies.HOLDING.wait(10)  # the first request's step is mid-call
        for i in range(1, 5):
            threads.append(threading.Thread(target=_send, args=(server, agent_id, f"slow {i}")))
            threads[-1].start()
            deadline = time.monotonic() + 10
            while _waiting(server, agent_id) < i and time.monotonic() < deadline:
                time.sleep(0.01)
            assert _waiting(server, agent_id) == i
        # The server keeps answering while a step holds the agent.
        assert http_a.get("/v1/health/").status_code == 200
    finally:
        policies.RELEASED.set()
    released = time.monotonic()
    for t in threads:
        t.join()
    assert time.monotonic() - released >= 4 * SLOW_S  # the slow steps ran one after another
    listed = http_a.get(f"/v1/agents/{agent_id}/messages").json()
    users = [m["content"] for m in listed if m["message_type"] == "user_message"]
    sent = [u for u in users if u.startswith(("hold", "slow"))]  # not the heartbeats
    assert sent == ["hold 0", *(f"slow {i}" for i in range(1, 5))]
