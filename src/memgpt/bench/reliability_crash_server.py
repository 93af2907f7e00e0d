"""Crash safety of the server: SIGKILL `memgpt server` during requests, restart it, check.

The real server runs as a subprocess the way `memgpt.bench.server` starts it (loopback, a
free port, the instant scripted model, hash embeddings), on one SQLite file that outlives
every kill. A few clients drive one agent at once: messages (with an `Idempotency-Key`
header or an `otid`), edits of the client's own core-memory block, and archival passage
inserts. The server is killed after a random delay; the request each client had in flight
is unacknowledged and the client retries it after the restart: a message with the same
key, an edit with the same value, a passage only when a read shows it is not stored (the
passage API has no idempotency key, so a careful client reads before it retries).

After every kill, with the server down, the database is checked: `PRAGMA integrity_check`;
every acknowledged message stored and no message stored twice; each block equal to its
last acknowledged edit or the one in flight after it, and to the newest entry of its edit
history; every acknowledged passage stored and none twice; every call with its result.
After every restart a new message must get the agent's reply.
"""

from __future__ import annotations

import random
import signal
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from memgpt.bench.reliability_crash import check_queue
from memgpt.bench.server import free_port, start, wait_healthy
from memgpt.server.deps import MAX_RESULTS
from memgpt.store.dialects.sqlite import SQLiteStore

CLIENTS = 3
KINDS = ("message", "edit", "passage")
MAX_WAIT_S = 0.4  # the longest a round runs before its kill
TIMEOUT_S = 20.0  # a request the server does not answer in this long is a hang, not a kill
REPLY = "hi"  # what the instant model sends back


def plain_http(url: str) -> httpx.Client:
    # Loopback HTTP: no TLS, so skip loading certificates (about 0.1 s a client, a good part
    # of a round that runs for 0.2 s).
    return httpx.Client(base_url=url, timeout=TIMEOUT_S, verify=False)


@dataclass
class Request:
    kind: str  # one of KINDS
    value: str  # the message text, the block's new value or the passage text
    otid: bool = False  # a message's key goes in the body's otid, not the header
    tries: int = 0

    @property
    def key(self) -> str:
        return self.value.replace(" ", "-")


@dataclass
class Client:
    label: str  # also the label of the block only this client edits
    rng: random.Random
    kinds: tuple[str, ...] = KINDS
    sent: int = 0
    in_flight: Request | None = None  # not acknowledged yet: retried after a restart
    messages: set[str] = field(default_factory=set)  # acknowledged, likewise below
    edit: str = ""
    passages: set[str] = field(default_factory=set)
    acknowledged: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    errors: list[str] = field(default_factory=list)

    def drive(self, url: str, agent_id: str, retry_only: bool = False) -> None:
        """Send requests until the server dies; with `retry_only`, just the one in flight."""
        with plain_http(f"{url}/v1/agents/{agent_id}") as http:
            while self.in_flight or not retry_only:
                if self.in_flight is None:
                    self.in_flight = self.next()
                request = self.in_flight
                if request.tries:
                    self.retries += 1
                request.tries += 1
                try:
                    error = self._send(http, request)
                except httpx.TimeoutException:
                    self.errors.append(f"{self.label}: {request.kind} got no answer")
                    return
                except httpx.TransportError:
                    return  # the server was killed: the request stays in flight
                if error:
                    self.errors.append(f"{self.label}: {request.kind} {request.value!r}: {error}")
                    return
                self._acknowledge(request)

    def next(self) -> Request:
        self.sent += 1
        kind = self.rng.choice(self.kinds)
        return Request(kind, f"{self.label} {kind} {self.sent}", otid=self.rng.random() < 0.5)

    def _send(self, http: httpx.Client, request: Request) -> str | None:
        """None when the server acknowledged the request as expected, else what was wrong."""
        if request.kind == "message":
            return self.message(http, request)
        if request.kind == "edit":
            r = http.patch(f"/core-memory/blocks/{self.label}", json={"value": request.value})
            if r.status_code != 200 or r.json()["value"] != request.value:
                return f"{r.status_code} {r.text[:200]}"
            return None
        if request.tries > 1:
            r = http.get("/archival-memory", params={"limit": MAX_RESULTS})
            if r.status_code != 200:
                return f"{r.status_code} {r.text[:200]}"
            if any(p["text"] == request.value for p in r.json()):
                return None  # the killed insert had committed
        r = http.post("/archival-memory", json={"text": request.value})
        if r.status_code != 200 or [p["text"] for p in r.json()] != [request.value]:
            return f"{r.status_code} {r.text[:200]}"
        return None

    def message(self, http: httpx.Client, request: Request) -> str | None:
        message = {"role": "user", "content": request.value}
        headers = {}
        if request.otid:
            message["otid"] = request.key
        else:
            headers["Idempotency-Key"] = request.key
        r = http.post("/messages", json={"messages": [message]}, headers=headers)
        if r.status_code != 200:
            return f"{r.status_code} {r.text[:200]}"
        replies = [m.get("content") for m in r.json()["messages"]]
        return None if REPLY in replies else f"no reply in {r.text[:200]}"

    def _acknowledge(self, request: Request) -> None:
        if request.kind == "message":
            self.messages.add(request.value)
        elif request.kind == "edit":
            self.edit = request.value
        else:
            self.passages.add(request.value)
        self.acknowledged[request.kind] += 1
        self.in_flight = None


def continues(url: str, agent_id: str, probe: Client) -> list[str]:
    """A new message after a restart gets the agent's reply (nothing kills this one)."""
    probe.in_flight = probe.next()
    before = len(probe.errors)
    probe.drive(url, agent_id, retry_only=True)
    if probe.in_flight is None:
        return []
    probe.in_flight = None  # reported below, not retried
    return ["the agent did not answer after a restart", *probe.errors[before:]]


def check(db: Path, agent_id: str, clients: list[Client]) -> tuple[list[str], int]:
    """The problems found, and how many requests in flight had committed: those a blind
    retry would apply twice."""
    store = SQLiteStore(db)
    problems = []
    try:
        if store.integrity_check() != "ok":
            problems.append("integrity_check failed")
        messages = store.list_messages(agent_id, limit=10**7)
        problems += check_queue(messages)
        if store.count_messages(agent_id) != len(messages):
            problems.append("the message count disagrees with the rows")
        texts = Counter(m.text for m in messages if m.event == "user_message")
        passages = Counter(p.text for p in store.list_passages(agent_id, limit=10**7))
        for name, stored, acknowledged in (
            ("message", texts, {t for c in clients for t in c.messages}),
            ("passage", passages, {t for c in clients for t in c.passages}),
        ):
            if twice := sorted(t for t, n in stored.items() if n > 1):
                problems.append(f"{name}s stored twice: {twice[:3]}")
            if lost := sorted(acknowledged - stored.keys()):
                problems.append(f"acknowledged {name}s lost: {lost[:3]}")
        state = store.get_agent(agent_id)
        assert state is not None
        for c in (c for c in clients if "edit" in c.kinds):
            value = state.block(c.label).value
            allowed = {c.edit}
            if c.in_flight and c.in_flight.kind == "edit":
                allowed.add(c.in_flight.value)
            if value not in allowed:
                problems.append(f"block {c.label} is {value!r}, not one of {sorted(allowed)}")
            history = store.block_history(state.block(c.label).id)
            if (history[-1].new_value if history else "") != value:
                problems.append(f"block {c.label} and its edit history disagree")
        stored = {"message": texts, "passage": passages, "edit": {b.value for b in state.blocks}}
        committed = sum(
            c.in_flight.value in stored[c.in_flight.kind] for c in clients if c.in_flight
        )
    finally:
        store.close()
    return problems, committed


def run(kills: int, seed: int = 0, workdir: Path | None = None) -> dict[str, Any]:
    rng = random.Random(seed)
    clients = [Client(f"client{i}", random.Random(f"{seed}/{i}")) for i in range(CLIENTS)]
    probe = Client("probe", rng, kinds=("message",))
    violations: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = workdir or Path(tmp)
        agent_id, killed, committed = "", 0, 0
        for round_ in range(kills + 1):
            try:
                agent_id = serve_round(
                    root, agent_id, clients, probe, rng, violations, round_ == kills
                )
            except RuntimeError as exc:  # the server did not come back: nothing more to run
                tail = (root / "server.log").read_text()[-1000:]
                violations.append(f"{exc}: {tail}")
                break
            killed += round_ < kills
            problems, in_flight_committed = check(root / "server.db", agent_id, [*clients, probe])
            violations += problems
            committed += in_flight_committed
    return _figures(killed, committed, [*clients, probe], violations)


def serve_round(
    root: Path,
    agent_id: str,
    clients: list[Client],
    probe: Client,
    rng: random.Random,
    violations: list[str],
    last: bool,
) -> str:
    """Start the server, check it continues, drive it and kill it (the last round: finish
    the retries and stop it cleanly). Returns the agent's id, made in the first round."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (root / "server.log").open("a") as log:
        server = start(root, root / "server.db", port, stderr=log)
    threads: list[threading.Thread] = []
    try:
        with plain_http(url) as http:
            wait_healthy(http, server)
            if not agent_id:
                blocks = [{"label": c.label, "value": ""} for c in clients]
                body = {"name": "crash", "memory_blocks": blocks}
                agent_id = http.post("/v1/agents/", json=body).raise_for_status().json()["id"]
        violations += continues(url, agent_id, probe)
        for c in clients:
            threads.append(threading.Thread(target=c.drive, args=(url, agent_id, last)))
            threads[-1].start()
        if last:
            for t in threads:
                t.join()
        else:
            time.sleep(rng.uniform(0.0, MAX_WAIT_S))
    finally:
        server.send_signal(signal.SIGTERM if last else signal.SIGKILL)
        server.wait()
        for t in threads:
            t.join()
    return agent_id


def _figures(
    kills: int, committed: int, clients: list[Client], violations: list[str]
) -> dict[str, Any]:
    # A lost or doubled record is found again by every later check: count it once.
    violations = list(dict.fromkeys([*violations, *(e for c in clients for e in c.errors)]))
    acknowledged = sum((c.acknowledged for c in clients), Counter())
    return {
        "kills": kills,
        "acknowledged": sum(acknowledged.values()),
        "acknowledged_by_kind": dict(acknowledged),
        "retries": sum(c.retries for c in clients),
        "in_flight_committed": committed,  # retries that must not apply a second time
        "violations": len(violations),
        "violation_examples": violations[:5],
    }
