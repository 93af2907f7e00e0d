"""Runs: one message's processing, recorded with its steps, run in the background when
asked (`POST …/messages/async`), listed and cancelled as Letta's `/v1/runs`.

A background run takes its turn on the agent and a thread of the step pool like any
message (`steps.py`), so it is bounded the same way; its caller gets the run at once.
Queued runs cost the server nothing until they run, yet each organization may have only
a few unfinished at once (429 past that, as `fairness.py` refuses), so one cannot queue
work without bound ahead of the others. A
run is cancelled between steps: the step under way finishes and commits whole. A run a
stopped server left unfinished is marked failed when a server starts again; the runs of
other live servers sharing the database are theirs to finish (see store/sql/runs.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

from memgpt.agent.agent import RunContext
from memgpt.schemas import Usage
from memgpt.server import wire
from memgpt.server.auth import Principal
from memgpt.server.errors import ModelCallError, NotFoundError
from memgpt.server.fairness import TooBusyError
from memgpt.server.service import AgentService
from memgpt.server.steps import StepRunner
from memgpt.store.base import Run, RunStep

log = logging.getLogger(__name__)

ACTIVE = ["created", "running"]
BACKGROUND_PER_ORG = 16
MOST = 10_000  # a run's steps, or an agent's unfinished runs, are few; this bounds them


class RunService:
    def __init__(self, service: AgentService, steps: StepRunner, per_org: int = BACKGROUND_PER_ORG):
        self.service, self.store, self.steps = service, service.store, steps
        self.per_org = per_org
        self._background: set[asyncio.Task] = set()  # held, or the loop may drop them
        self._unfinished: Counter[str] = Counter()  # background runs per organization
        self.store.runs_owner()  # this server's lease, before it looks for others' runs
        failed = self.store.fail_orphaned_runs()
        if failed:
            log.warning("%d runs were left unfinished by a stopped server; marked failed", failed)

    def start(self, p: Principal, agent_id: str, *, background: bool = False) -> Run:
        """A new run; one not in the background starts in its turn, so it is running."""
        self.service.owner(p, agent_id)
        run = Run(agent_id=agent_id, background=background, owner=self.store.runs_owner())
        run.status = "created" if background else "running"
        self.store.create_run(run)
        return run

    def within(self, run_id: str, work: Callable[..., dict[str, Any]]) -> dict[str, Any]:
        """Process `work(run=...)` (a message, or an approval's answer) as the run: each step is
        recorded under it, it may be cancelled between steps, and its outcome becomes the
        run's status and stop reason."""
        run = RunContext(run_id, partial(self.store.run_cancelled, run_id))
        self.store.set_run_status(run_id, "running")
        try:
            result = work(run=run)
        except ModelCallError as exc:
            self.store.set_run_status(run_id, "failed", exc.result["stop_reason"]["stop_reason"])
            raise
        except BaseException:
            self.store.set_run_status(run_id, "failed", "error")
            raise
        reason = result["stop_reason"]["stop_reason"]
        self.store.set_run_status(
            run_id, "cancelled" if reason == "cancelled" else "completed", reason
        )
        return result

    def admit(self, p: Principal) -> None:
        """Take one of the organization's background places, or refuse past its share.
        On the event loop, so checking and taking are one."""
        if self._unfinished[p.organization_id] >= self.per_org:
            raise TooBusyError(
                f"Your organization has {self.per_org} messages processing in the background,"
                " as many as it may; wait for one to finish, then try again."
            )
        self._unfinished[p.organization_id] += 1

    def release(self, organization_id: str) -> None:
        self._unfinished[organization_id] -= 1

    def in_background(self, p: Principal, run: Run, work: Callable[..., dict[str, Any]]) -> None:
        """Process `work` on the run's agent after the messages before it, in the place
        `admit` took; its outcome is the run's status (the service records it)."""
        task = asyncio.create_task(self.steps.call(run.agent_id, work))
        self._background.add(task)
        task.add_done_callback(partial(self._finished, p.organization_id))

    def _finished(self, organization_id: str, task: asyncio.Task) -> None:
        self._background.discard(task)
        self.release(organization_id)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("background run failed: %s", exc)

    def get(self, p: Principal, run_id: str) -> Run:
        run = self.store.get_run(run_id)
        if run is None or not self._mine(p, run.agent_id):
            raise NotFoundError(f"There is no run {run_id!r}.")
        return run

    def step(self, p: Principal, step_id: str) -> RunStep:
        step = self.store.get_step(step_id)
        if step is None or not self._mine(p, step.agent_id):
            raise NotFoundError(f"There is no step {step_id!r}.")
        return step

    def _mine(self, p: Principal, agent_id: str) -> bool:
        owner = self.service.accounts.agent_owner(agent_id)
        return owner is not None and owner.organization_id == p.organization_id

    def agent_ids(self, p: Principal, agent_ids: list[str] | None) -> list[str]:
        """The agents a listing covers: those asked for (each must be the caller's), else
        all of the caller's organization's."""
        if agent_ids:
            for agent_id in agent_ids:
                self.service.owner(p, agent_id)
            return agent_ids
        return [o.agent_id for o in self.service.accounts.owned_agents(p.organization_id)]

    def cancel(self, p: Principal, agent_id: str, run_ids: list[str] | None) -> dict[str, str]:
        """Cancel the agent's given runs, or all its unfinished ones: Letta's answer, each
        run's id with "cancelled", or the status it had already ended with."""
        self.service.owner(p, agent_id)
        if run_ids is None:
            runs = self.store.list_runs([agent_id], ACTIVE, MOST, newest_first=False)
        else:
            runs = [self.get(p, run_id) for run_id in run_ids]
        out = {}
        for run in runs:
            if run.agent_id != agent_id:
                raise NotFoundError(f"Agent {agent_id!r} has no run {run.id!r}.")
            cancelled = self.store.set_run_status(run.id, "cancelled", "cancelled")
            out[run.id] = "cancelled" if cancelled else self.store.get_run(run.id).status
        return out

    def delete(self, p: Principal, run_id: str) -> Run:
        """Delete a run with its steps, as Letta does; their messages stay in recall
        storage. A run under way stops as a cancelled one does: the step under way commits
        whole (without its record), and no other step follows."""
        run = self.get(p, run_id)
        if not self.store.delete_run(run.id):
            raise NotFoundError(f"There is no run {run_id!r}.")
        return run

    def usage(self, p: Principal, run_id: str) -> Usage:
        """The tokens the run's committed steps used, summed."""
        run = self.get(p, run_id)
        total = Usage()
        for s in self.store.list_steps([run.agent_id], run.id, MOST, newest_first=False):
            total = total.plus(
                Usage(
                    prompt_tokens=s.prompt_tokens,
                    completion_tokens=s.completion_tokens,
                    cached_prompt_tokens=s.cached_prompt_tokens,
                    step_count=1,
                )
            )
        return total

    def messages(self, p: Principal, run_id: str, limit: int) -> list[dict[str, Any]]:
        """The messages the run's steps committed, oldest first."""
        run = self.get(p, run_id)
        steps = self.store.list_steps([run.agent_id], run.id, MOST, newest_first=False)
        if not steps:
            return []
        history = self.store.messages_page(
            run.agent_id,
            after_seq=min(s.first_seq for s in steps) - 1,
            before_seq=max(s.last_seq for s in steps) + 1,
            limit=limit,
        )
        by_seq = {seq: s.id for s in steps for seq in range(s.first_seq, s.last_seq + 1)}
        out = []
        for m in history:
            for part in wire.messages([m], include_events=True):
                out.append({**part, "run_id": run.id, "step_id": by_seq.get(m.seq)})
        return out
