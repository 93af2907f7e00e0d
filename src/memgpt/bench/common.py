"""Helpers shared by the paper's experiments and the framework benchmarks.

Every benchmark prints one JSON object on stdout (machine-readable, what CI and
the README read) and a short table on stderr (for a person at a terminal), so
`memgpt bench NAME > out.json` keeps both.
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
import sys
import tempfile
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from memgpt.agent import events
from memgpt.embeddings.base import Embedder
from memgpt.llm.base import ChatMessage, LLMClient
from memgpt.schemas import EmbeddingConfig, EventType, Message, Response, ToolCall

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def emit(result: dict[str, Any], rows: Sequence[Sequence[object]], header: Sequence[str]) -> None:
    """The JSON on stdout, and the same figures as an aligned table on stderr."""
    print(json.dumps(result, indent=2))
    cells = [[str(h) for h in header], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)), file=sys.stderr)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=sys.stderr)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return "-" if value is None else str(value)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile by nearest rank: a value that was measured, defined for a
    single one (statistics.quantiles needs two and interpolates)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return float(ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1])


def bytecode_cache(env: Mapping[str, str], cache: str | Path) -> dict[str, str]:
    """`env` for a child Python that keeps the modules it compiles in `cache`.

    A timed start then reads bytecode as an installed memgpt does (pip compiles at install,
    Python caches at first import), rather than compiling a checkout's modules again at
    every start because PYTHONDONTWRITEBYTECODE is set or its caches are stale. Start the
    child once untimed to fill the cache.
    """
    env = {**env, "PYTHONPYCACHEPREFIX": str(cache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def data_dir(explicit: str | None) -> Path:
    """The shared data folder: --data, else $MEMGPT_DATA, else ../shared/data next to the repo."""
    candidates = [explicit, os.environ.get("MEMGPT_DATA")]
    # src/memgpt/bench/common.py -> the repository root is three folders up from memgpt/.
    repo = Path(__file__).resolve().parents[3]
    candidates += [str(repo.parent / "shared" / "data"), str(repo / "shared" / "data")]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    raise SystemExit(
        "The benchmark data folder was not found; pass --data DIR or set MEMGPT_DATA "
        "to the folder holding nested_kv/."
    )


def make_llm(model: str | None, oracle: Callable[[], LLMClient]) -> LLMClient:
    """The model under test: "oracle" is the benchmark's own scripted policy (a harness
    check), anything else is a model string as for `memgpt run --model`."""
    if model == "oracle":
        return oracle()
    from memgpt import config
    from memgpt.llm import create_llm

    return create_llm(config.load_settings(model).llm_config())


def make_embedder(provider: str | None) -> tuple[EmbeddingConfig, Embedder]:
    """The embedding backend: --embedding, else the configured one (MiniLM by default)."""
    from memgpt import config
    from memgpt.embeddings import create_embedder

    settings = config.load_settings()
    if provider:
        settings.embedding, settings.embedding_model, settings.embedding_dim = provider, None, None
    embedding = settings.embedding_config()
    return embedding, create_embedder(embedding)


@contextmanager
def scratch_client(workdir: str | None) -> Iterator[Any]:
    """A MemGPT client on a fresh database that is deleted afterwards."""
    from memgpt.client import MemGPT

    with tempfile.TemporaryDirectory(dir=workdir, prefix="memgpt-bench-") as tmp:
        client = MemGPT(Path(tmp) / "bench.db")
        try:
            yield client
        finally:
            client.close()


def function_result(message: ChatMessage) -> list[dict[str, Any]]:
    """The hits in a search function's result, as the model reads them ([] if none)."""
    try:
        text = json.loads(message.content)["message"]
        return json.loads(text.split("\n", 1)[1]) if "\n" in text else []
    except (ValueError, KeyError, TypeError):
        return []


def last_user_event(messages: Sequence[ChatMessage]) -> tuple[int, dict[str, Any]]:
    """The index and packet of the newest user message event (a person's words)."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == "user":
            packet = json.loads(messages[i].content)
            if packet.get("type") == "user_message":
                return i, packet
    return -1, {}


def searches_since(messages: Sequence[ChatMessage], start: int) -> list[tuple[str, list[dict]]]:
    """(query, hits) of each search call made after messages[start], in order."""
    queries: dict[str, str] = {}
    found = []
    for m in messages[start + 1 :]:
        for c in m.tool_calls:
            queries[c.id] = json.loads(c.arguments).get("query", "")
        if m.role == "tool" and m.tool_call_id in queries:
            found.append((queries[m.tool_call_id], function_result(m)))
    return found


def uuids(text: str) -> list[str]:
    return _UUID.findall(text.lower())


def reply_text(response: Response) -> str:
    """What the agent told the user, or its last free text when it sent nothing."""
    return response.text or next(
        (m.text for m in reversed(response.messages) if m.role == "assistant" and m.text), ""
    )


# --- answer scoring ---

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def tokens(text: str) -> list[str]:
    """rouge-score's default tokenization: lower case, runs of [a-z0-9], no stemming."""
    return [t for t in _NON_ALNUM.split(text.lower()) if t]


def normalize(text: str) -> str:
    return " ".join(tokens(text))


def exact_match(prediction: str, answer: str) -> bool:
    return normalize(prediction) == normalize(answer)


def contains(prediction: str, answer: str) -> bool:
    """The normalized answer appears, on token boundaries, in the normalized prediction."""
    return f" {normalize(answer)} " in f" {normalize(prediction)} "


def rouge_l_recall(prediction: str, answer: str) -> float:
    """ROUGE-L recall (Lin, 2004): LCS of the token sequences over the reference's length."""
    ref, hyp = tokens(answer), tokens(prediction)
    if not ref or not hyp:
        return 0.0
    # One-row dynamic program over the hypothesis: O(len(ref) * len(hyp)) time, O(len(hyp)) space.
    row = [0] * (len(hyp) + 1)
    for r in ref:
        previous_diagonal = 0
        for j, h in enumerate(hyp, start=1):
            above = row[j]
            row[j] = previous_diagonal + 1 if r == h else max(row[j], row[j - 1])
            previous_diagonal = above
    return row[-1] / len(ref)


# --- recall storage fixtures ---

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "at",
        "be",
        "did",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "m",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "our",
        "the",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
        "you",
        "your",
    ]
)


def content_words(text: str) -> str:
    """A question without its function words: what a sensible searcher types."""
    return " ".join(t for t in tokens(text) if t not in STOPWORDS)


def message_id(agent_id: str, turn_id: str) -> str:
    """Message ids are unique across agents, and one conversation may go to many agents."""
    return f"{turn_id}@{agent_id}"


def as_messages(agent_id: str, turns: Sequence[Any], in_context: bool = False) -> list[Message]:
    """Conversation turns (role, text, time, id) as recall storage holds them: a user
    message event, or the agent's send_message call with its result."""
    out: list[Message] = []
    for turn in turns:
        mid = message_id(agent_id, turn.id)
        if turn.role == "user":
            out.append(
                Message(
                    id=mid,
                    role="user",
                    event=EventType.USER_MESSAGE,
                    text=turn.text,
                    created_at=turn.time,
                    in_context=in_context,
                )
            )
            continue
        call = ToolCall(
            id=f"call-{mid}",
            name="send_message",
            arguments=json.dumps({"inner_thoughts": "", "message": turn.text}),
        )
        out.append(
            Message(
                id=mid,
                role="assistant",
                tool_calls=[call],
                created_at=turn.time,
                in_context=in_context,
            )
        )
        out.append(
            Message(
                role="tool",
                text=events.function_result(True, None),
                tool_call_id=call.id,
                name="send_message",
                created_at=turn.time,
                in_context=in_context,
            )
        )
    return out


def throwaway_postgres() -> str:
    """A PostgreSQL 16 with pgvector from `pgserver` (the test extra), in a temp dir
    deleted at exit: benchmarks and tests must not land in a database a user cares about.
    Raises ImportError without pgserver or psycopg."""
    import psycopg

    with warnings.catch_warnings():  # platformdirs: no XDG_RUNTIME_DIR under root
        warnings.simplefilter("ignore")
        import pgserver

        server = pgserver.get_server(tempfile.mkdtemp(prefix="memgpt-pg-"), cleanup_mode="delete")
        uri = server.get_uri()
    with psycopg.connect(uri, autocommit=True) as conn:
        # One extension per database, in `public`, which every schema's search path includes.
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
    return uri


def fresh_schema(uri: str) -> str:
    """A connection string to `uri` whose tables live in a new, empty schema of their own,
    so a run never sees (or leaves rows among) anyone else's; `drop_schema` removes it."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    schema = f"memgpt_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return make_conninfo(uri, options=f"-c search_path={schema},public")


def drop_schema(uri: str) -> None:
    """Drop the schema a `fresh_schema` connection string names, with everything in it."""
    import psycopg

    with psycopg.connect(uri, autocommit=True) as conn:
        schema = conn.execute("SELECT current_schema()").fetchone()[0]
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def open_bench_store(database: str, postgres: bool):
    """The store a benchmark's child process measures: PostgreSQL at the connection string
    `database`, or the SQLite file at that path."""
    if not postgres:
        from memgpt.store.dialects.sqlite import SQLiteStore

        return SQLiteStore(database)
    from memgpt.store.dialects.postgres import PostgresStore

    return PostgresStore(database)


def postgres_target(uri: str | None) -> str:
    """The PostgreSQL a benchmark runs on: `uri`, or a throwaway server when it is empty."""
    if uri:
        return uri
    try:
        return throwaway_postgres()
    except ImportError:
        raise SystemExit(
            "A throwaway PostgreSQL needs the test extra (pgserver); install it with "
            "`bash scripts/test`, or pass --postgres URI of a server with pgvector."
        ) from None
