"""The server's clock: the paper's timed events. Every tick it sends each agent that
asked for them (`heartbeat_interval_s`) a heartbeat once it has been quiet that long,
and wakes a main agent's sleep-time agent once the main agent has been idle
`sleeptime_idle_s` with turns the sleep-time agent has not read. The work runs on the
service's background pool, each agent's one at a time, never holding another's lock.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from datetime import datetime, timedelta

from memgpt.schemas import utcnow
from memgpt.server.service import AgentService

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, service: AgentService, tick_s: float, idle_s: float):
        self.service, self.tick_s, self.idle_s = service, tick_s, idle_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            try:
                self.tick(utcnow())
            except Exception:
                log.exception("scheduler tick failed")

    def tick(self, now: datetime) -> list[Future]:
        """Start what is due at `now`; the runs started."""
        store, started = self.service.store, []
        for state in store.timed_agents():
            newest = store.messages_page(state.id, limit=1, newest_first=True)
            quiet = now - (newest[0].created_at if newest else state.created_at)
            interval = timedelta(seconds=state.heartbeat_interval_s or 0)
            if state.heartbeat_interval_s and quiet >= interval:
                since = now - interval  # checked again under the agent's lock
                started.append(
                    self.service.in_background(state.id, lambda a, t=since: a.heartbeat(t))
                )
            if state.sleeptime_agent_id and quiet >= timedelta(seconds=self.idle_s):
                started.append(self.service.tidy_memory(state, idle=True))
        return [run for run in started if run is not None]
