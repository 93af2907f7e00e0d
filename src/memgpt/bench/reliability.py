"""`memgpt bench reliability PART [--full]`: the reliability harnesses, printing JSON figures.

Parts: crash (SIGKILL during steps, eviction and document loads), crash-server (SIGKILL of
`memgpt server` mid-request, clients retrying), faults (a fault-injecting
OpenAI-compatible endpoint), context (property-based context budget), upgrade (oldest
schema to newest), hostile (search syntax and odd text), load (many clients at once on
`memgpt server`, SQLite and PostgreSQL: nothing lost, repeated or reordered), fuzz
(schemathesis on every operation of the server's OpenAPI spec: never a 5xx), or all.
The default sizes are the ones CI runs (tests/reliability); --full runs the sizes the
figures are quoted at. Exits 1 when any violation or crash was found.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

# part -> (fast run, full run); each returns its figures with a "violations" count.
PARTS: dict[str, tuple[Callable[[int], dict[str, Any]], Callable[[int], dict[str, Any]]]] = {}


def _crash(kills: int) -> Callable[[int], dict[str, Any]]:
    def run(seed: int) -> dict[str, Any]:
        from memgpt.bench import reliability_crash

        return reliability_crash.run(kills, seed)

    return run


def _crash_server(kills: int) -> Callable[[int], dict[str, Any]]:
    def run(seed: int) -> dict[str, Any]:
        from memgpt.bench import reliability_crash_server

        return reliability_crash_server.run(kills, seed)

    return run


def _faults(steps: int) -> Callable[[int], dict[str, Any]]:
    def run(seed: int) -> dict[str, Any]:
        from memgpt.bench import reliability_faults

        return reliability_faults.run(steps, seed)

    return run


def _context(examples: int) -> Callable[[int], dict[str, Any]]:
    def run(seed: int) -> dict[str, Any]:
        from memgpt.bench import reliability_context

        return reliability_context.run(examples, seed)

    return run


def _upgrade(agents: int, messages: int, passages: int) -> Callable[[int], dict[str, Any]]:
    def run(seed: int) -> dict[str, Any]:
        from memgpt.bench import reliability_upgrade

        return reliability_upgrade.run(agents, messages, passages, seed)

    return run


def _hostile(examples: int) -> Callable[[int], dict[str, Any]]:
    def run(seed: int) -> dict[str, Any]:
        from memgpt.bench import reliability_hostile

        return reliability_hostile.run(examples, seed)

    return run


def _load(clients: int, messages: int, agents: int) -> Callable[[int], dict[str, Any]]:
    def run(seed: int) -> dict[str, Any]:
        from memgpt.bench import reliability_load

        return reliability_load.run(clients, messages, agents, seed)

    return run


def _fuzz(examples: int) -> Callable[[int], dict[str, Any]]:
    def run(seed: int) -> dict[str, Any]:
        from memgpt.bench import reliability_fuzz

        return reliability_fuzz.run(examples, seed)

    return run


PARTS.update(
    {
        "crash": (_crash(21), _crash(210)),
        "crash-server": (_crash_server(4), _crash_server(100)),
        "faults": (_faults(150), _faults(1000)),
        "context": (_context(25), _context(300)),
        "upgrade": (_upgrade(3, 60, 20), _upgrade(20, 600, 200)),
        "hostile": (_hostile(30), _hostile(500)),
        "load": (_load(50, 300, 10), _load(50, 2000, 10)),
        "fuzz": (_fuzz(3), _fuzz(50)),
    }
)


def failed(figures: dict[str, Any]) -> bool:
    return bool(figures.get("violations") or figures.get("crashes"))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="memgpt bench reliability", description=__doc__.split("\n")[0]
    )
    parser.add_argument("part", choices=[*PARTS, "all"])
    parser.add_argument("--full", action="store_true", help="the full-size run (minutes)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    names = list(PARTS) if args.part == "all" else [args.part]
    results: dict[str, Any] = {}
    for name in names:
        start = time.monotonic()
        figures = PARTS[name][args.full](args.seed)
        results[name] = {**figures, "seconds": round(time.monotonic() - start, 1)}
    ok = not any(failed(f) for f in results.values())
    print(json.dumps({"full": args.full, "seed": args.seed, "ok": ok, **results}, indent=2))
    return 0 if ok else 1
