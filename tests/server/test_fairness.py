"""One organization's flood of tool runs does not move another's message latency, is
refused past its share with 429 and Retry-After, and all sandboxes together stay within
their memory budget."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from memgpt.server.fairness import TOOLS_PER_ORG
from memgpt.server.settings import ServerSettings
from memgpt.tools import bubblewrap, sandbox
from memgpt.tools.sandbox import MEMORY_BYTES, Isolation
from tests.server.live import live_server

SLEEPER = (
    "def nap(seconds: float) -> str:\n    import time\n    time.sleep(seconds)\n    return 'ok'\n"
)
SANDBOX_BYTES = MEMORY_BYTES + bubblewrap.TMP_BYTES


def _settings(tmp_path, **kwargs) -> ServerSettings:
    return ServerSettings(
        database=tmp_path / "memgpt.db",
        model="scripted/tests.server.policies:instant",
        embedding="hash",
        tool_isolation=Isolation(disabled=True),  # bubblewrap or not, the pools are the same
        **kwargs,
    )


def _run(url: str, key: str, seconds: float) -> httpx.Response:
    body = {"source_code": SLEEPER, "args": {"seconds": seconds}}
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.post(f"{url}/v1/tools/run", json=body, headers=headers, timeout=60)


def _spaced_p50(http: httpx.Client, agent_ids: list[str]) -> float:
    """The median latency of one message to each agent, sent 0.2 s apart each from a
    thread of its own: a message that waits for a worker shows, however the rest fare."""

    def send(agent_id: str, at: float) -> float:
        time.sleep(max(0.0, at - time.monotonic()))
        start = time.perf_counter()
        http.post(f"/v1/agents/{agent_id}/messages", json={"input": "hi"}).raise_for_status()
        return time.perf_counter() - start

    t0 = time.monotonic()
    with ThreadPoolExecutor(len(agent_ids)) as senders:
        times = senders.map(send, agent_ids, [t0 + 0.2 * i for i in range(len(agent_ids))])
        return statistics.median(times)


def test_a_tool_flood_from_one_org_leaves_another_orgs_messages_alone(tmp_path):
    with live_server(_settings(tmp_path)) as live:
        headers = {"Authorization": f"Bearer {live.key_a}"}
        with httpx.Client(base_url=live.url, headers=headers, timeout=60) as http:
            ids = [http.post("/v1/agents/", json={"name": f"a{i}"}).json()["id"] for i in range(15)]
            _spaced_p50(http, ids)  # warm: each agent opens once
            idle = _spaced_p50(http, ids)
            with ThreadPoolExecutor(40) as flood:
                runs = [flood.submit(_run, live.url, live.key_b, 6) for _ in range(40)]
                time.sleep(2.0)  # the flood has arrived and its sandboxes have started
                busy = _spaced_p50(http, ids)
                assert _run(live.url, live.key_a, 0).json()["status"] == "success"
                answers = [r.result() for r in runs]
    print(
        f"org A message p50: idle {idle * 1000:.1f} ms, during org B's flood {busy * 1000:.1f} ms"
    )
    assert busy < 2 * idle + 0.005
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * TOOLS_PER_ORG + [429] * (40 - TOOLS_PER_ORG)
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.headers["retry-after"] == "5"
    assert "as many tool runs running as it may at once (4)" in refused.json()["detail"]


def test_sandboxes_together_stay_within_the_memory_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox.MEMORY, "total", sandbox.MEMORY.total)  # restored after
    settings = _settings(tmp_path, sandbox_memory_bytes=2 * SANDBOX_BYTES)
    with live_server(settings) as live, ThreadPoolExecutor(4) as pool:
        start = time.monotonic()
        keys = [live.key_a, live.key_a, live.key_b, live.key_b]
        answers = list(pool.map(lambda key: _run(live.url, key, 1.0), keys))
        elapsed = time.monotonic() - start
    assert all(a.json()["status"] == "success" for a in answers)
    assert elapsed >= 2.0  # four naps of a second, two at a time
