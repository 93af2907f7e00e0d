"""The server's clock and its background work: the paper's timed events and sleep-time
memory. Every tick the scheduler sends each agent that asked for them
(`heartbeat_interval_s`) a heartbeat once it has been quiet that long, and wakes a main
agent's sleep-time agent once the main agent has been idle `sleeptime_idle_s` with turns
the sleep-time agent has not read; after each user turn the service wakes it once
`sleeptime_frequency` turns are unread. The work runs on a background pool, each agent's
one at a time, never holding another's lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from memgpt.agent import sleeptime
from memgpt.agent.agent import Agent
from memgpt.schemas import AgentState, utcnow
from memgpt.server.auth import Principal

if TYPE_CHECKING:  # the service owns its Background, so it imports this module
    from memgpt.server.service import AgentService

log = logging.getLogger(__name__)


class Background:
    """Sleep-time runs and timed heartbeats, each agent's one at a time."""

    def __init__(self, service: AgentService, sleeptime_frequency: int):
        self.service, self.sleeptime_frequency = service, sleeptime_frequency
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="agent-background")
        self._busy: set[str] = set()
        self._guard = threading.Lock()

    def tidy_memory(self, main: AgentState, *, idle: bool = False) -> Future | None:
        """Wake main's sleep-time agent in the background once `sleeptime_frequency` user
        turns (idle: any) are unread; its run never holds main's lock. The run, if any."""
        store = self.service.store
        companion = main.sleeptime_agent_id and store.get_agent(main.sleeptime_agent_id)
        if not companion:
            return None
        turns = sleeptime.user_turns(sleeptime.unread(store, companion))
        if turns < (1 if idle else self.sleeptime_frequency):
            return None
        return self.run(companion.id, sleeptime.reorganize)

    def run(self, agent_id: str, work: Callable[[Agent], object]) -> Future | None:
        """Run `work` on the open agent on the background pool, unless it is there already
        (a scheduler tick finding the same agent due again waits for that one)."""
        with self._guard:
            if agent_id in self._busy:
                return None
            self._busy.add(agent_id)
        owner = self.service.accounts.agent_owner(agent_id)

        def run() -> None:
            try:
                if owner is not None:
                    p = Principal(user_id=owner.user_id, organization_id=owner.organization_id)
                    work(self.service.open(p, agent_id))
            except Exception:
                log.exception("background work for agent %s failed", agent_id)
            finally:
                with self._guard:
                    self._busy.discard(agent_id)

        return self._pool.submit(run)


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
        store, background, started = self.service.store, self.service.background, []
        for state in store.list_agents():
            if not (state.heartbeat_interval_s or state.sleeptime_agent_id):
                continue
            newest = store.messages_page(state.id, limit=1, newest_first=True)
            quiet = now - (newest[0].created_at if newest else state.created_at)
            interval = timedelta(seconds=state.heartbeat_interval_s or 0)
            if state.heartbeat_interval_s and quiet >= interval:
                since = now - interval  # checked again under the agent's lock
                started.append(background.run(state.id, lambda a, t=since: a.heartbeat(t)))
            if state.sleeptime_agent_id and quiet >= timedelta(seconds=self.idle_s):
                started.append(background.tidy_memory(state, idle=True))
        return [run for run in started if run is not None]
