"""Hostile input over HTTP: every operation in the server's OpenAPI spec, fuzzed by
schemathesis, answers bad input with a 4xx, never a 5xx.

A real app (instant scripted model, hash embedder, an API key) serves on a free
127.0.0.1 port in a thread; schemathesis reads its /openapi.json and generates requests
for each operation, valid by the schema (positive) and not (negative). Some cases use
random ids (the 404 paths); the others name a real agent, block, passage, tool, source
and file, so the handlers behind the ids run too (each deleting operation gets ids of its
own, and runs after the rest). A 5xx, or a request never answered, is a violation.

Every request goes to 127.0.0.1: a model handle that would reach a hosted API
(openai/..., anthropic/...) is swapped for the scripted model before it is sent. The run
is bounded by its case count and by REQUEST_TIMEOUT_S per request.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode

from memgpt.bench.server import INSTANT
from memgpt.errors import MemGPTError
from memgpt.llm import parse_model_string
from memgpt.server.app import create_app
from memgpt.server.settings import ServerSettings
from memgpt.store import Store

REQUEST_TIMEOUT_S = 30.0  # a request this slow counts as never answered
TOOL = 'def fuzz_echo(text: str) -> str:\n    """Echo the text."""\n    return text\n'
# Path parameters as the spec names them, given real ids (see _seed) in half the cases.
PATH_PARAMETERS = ("agent_id", "label", "passage_id", "tool_id", "tool_name", "source_id")
PATH_PARAMETERS += ("source_name", "file_id")
# The operations whose bodies pick an agent's model (`model`, `llm_config.handle`).
MODEL_OPERATIONS = {"POST /v1/agents/", "PATCH /v1/agents/{agent_id}"}


@contextmanager
def serving(store: Store | None, home: Path) -> Iterator[tuple[str, str]]:
    """The app on a free loopback port: (its URL, an API key)."""
    settings = ServerSettings(database=home / "memgpt.db", model=INSTANT, embedding="hash")
    app = create_app(settings, store=store)
    accounts = app.state.accounts
    org = accounts.create_organization("fuzz")
    key = accounts.create_api_key(accounts.create_user(org.id, "fuzzer").id)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Host and port, not the bound socket: uvicorn answers a socket handed to it ~40 ms late.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="critical", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fuzzed server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", key
    finally:
        server.should_exit = True
        thread.join(30)


def _seed(http: requests.Session, url: str, n: int) -> dict[str, str]:
    """An agent with a passage, a tool, a message and a source with a file attached: real
    ids for the cases (which may change or delete them)."""

    def ok(response: requests.Response) -> Any:
        response.raise_for_status()
        return response.json()

    agent = ok(http.post(f"{url}/v1/agents/", json={"name": f"fuzz-{n}"}))
    passage = ok(http.post(f"{url}/v1/agents/{agent['id']}/archival-memory", json={"text": "x"}))
    tool = ok(http.put(f"{url}/v1/tools/", json={"source_code": TOOL}))
    http.patch(f"{url}/v1/agents/{agent['id']}/tools/attach/{tool['id']}").raise_for_status()
    source = ok(http.post(f"{url}/v1/sources/", json={"name": f"fuzz-{n}"}))
    upload = {"file": ("notes.txt", b"fuzzing notes", "text/plain")}
    file = ok(http.post(f"{url}/v1/sources/{source['id']}/upload", files=upload))
    http.patch(f"{url}/v1/agents/{agent['id']}/sources/attach/{source['id']}").raise_for_status()
    http.post(f"{url}/v1/agents/{agent['id']}/messages", json={"input": "hello"}).raise_for_status()
    return {
        "agent_id": agent["id"],
        "label": "human",
        "passage_id": passage[0]["id"],
        "tool_id": tool["id"],
        "tool_name": tool["name"],
        "source_id": source["id"],
        "source_name": f"fuzz-{n}",
        "file_id": file["id"],
    }


def _offline(handle: Any) -> Any:
    """The scripted model instead of a handle that would call a hosted API; handles that
    cannot be parsed stay, so the server's refusal of them is fuzzed too."""
    if not isinstance(handle, str):
        return handle
    try:
        config = parse_model_string(handle)
    except MemGPTError:
        return handle
    return handle if config.provider == "scripted" or config.base_url else INSTANT


def _keep_offline(case: schemathesis.Case) -> None:
    body = case.body
    operation = f"{case.operation.method.upper()} {case.operation.path}"
    if operation not in MODEL_OPERATIONS or not isinstance(body, dict):
        return
    for fields, key in ((body, "model"), (body.get("llm_config"), "handle")):
        if isinstance(fields, dict) and key in fields:
            fields[key] = _offline(fields[key])


class _Tally:
    """What the cases got: status classes, the violations, and cases never sent."""

    def __init__(self, http: requests.Session):
        self.http = http
        self.statuses: Counter[str] = Counter()
        self.failures: list[str] = []
        self.unsendable = 0

    def send(self, case: schemathesis.Case) -> None:
        _keep_offline(case)
        label = case.operation.label
        try:
            response = case.call(session=self.http, timeout=REQUEST_TIMEOUT_S)
        except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL):
            self.unsendable += 1  # the client refuses it: nothing reached the server
            return
        except requests.RequestException as exc:
            self.statuses["none"] += 1
            self.failures.append(f"{label}: no answer ({type(exc).__name__})")
            return
        self.statuses[f"{response.status_code // 100}xx"] += 1
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except FailureGroup:
            self.failures.append(f"{label}: {response.status_code} {response.text[:160]}")


def _fuzz(strategy: st.SearchStrategy, cases: int, random_seed: int, tally: _Tally) -> None:
    @settings(
        max_examples=cases,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @seed(random_seed)
    @given(case=strategy)
    def fuzz(case: schemathesis.Case) -> None:
        tally.send(case)

    fuzz()


def run(examples: int, random_seed: int = 0, *, store: Store | None = None) -> dict[str, Any]:
    """Fuzz each operation with `2 * examples` cases, positive and negative, with random
    and with real ids, on SQLite (a temp file) or on `store`."""
    with tempfile.TemporaryDirectory() as tmp, serving(store, Path(tmp)) as (url, key):
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {key}"
        tally = _Tally(http)
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=schemathesis.Config())
        operations = [result.ok() for result in schema.get_all_operations()]
        # Deletions last, each on ids of its own; the others share one set.
        operations.sort(key=lambda op: op.method.upper() == "DELETE")
        shared = _seed(http, url, 0)
        for n, operation in enumerate(operations):
            real = _seed(http, url, n + 1) if operation.method.upper() == "DELETE" else shared
            names = {p.name for p in operation.path_parameters}
            fixed = {name: real[name] for name in PATH_PARAMETERS if name in names}
            strategy = st.one_of(
                [
                    operation.as_strategy(generation_mode=mode, path_parameters=ids)
                    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
                    for ids in ([None, fixed] if fixed else [None])
                ]
            )
            _fuzz(strategy, 2 * examples, random_seed + n, tally)
        http.close()
    return {
        "operations": len(operations),
        "cases": sum(tally.statuses.values()),
        "unsendable": tally.unsendable,
        "statuses": dict(sorted(tally.statuses.items())),
        "violations": len(tally.failures),
        "failures": sorted(set(tally.failures))[:20],
    }
