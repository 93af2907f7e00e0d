"""A server process with a run under way; used by test_run_owners.py.

Usage: python run_owner_child.py BACKEND TARGET AGENT_ID, where BACKEND is sqlite
(TARGET a file) or postgres (TARGET a connection string). It starts a run on the agent
as a server does, prints READY and the run's id, and stays alive until it is killed.
"""

from __future__ import annotations

import sys

from memgpt.store.base import Run
from tests.store.processes import client_for


def main() -> None:
    backend, target, agent_id = sys.argv[1:4]
    store = client_for(backend, target).store
    run = Run(agent_id=agent_id, status="running", owner=store.runs_owner())
    store.create_run(run)
    print("READY", run.id, flush=True)
    sys.stdin.readline()  # killed before any line comes


if __name__ == "__main__":
    main()
