"""Runs and their steps, written once for both dialects.

A step's row is written in the transaction that commits the step's messages, so a
step is recorded exactly when its messages are; a run's row changes status around it.
Those status writes skip the flush to disk (two fsyncs a message, ~18 ms of a ~20 ms
round trip on SQLite): the step's own commit flushes the run's creation with it, and a
power cut can at worst lose a run's last status, which the next start marks failed.

Several server processes may share one database: each owns the runs it starts, and holds
a lock named by its owner id while its store is open (a lease: the kernel or PostgreSQL
drops it when the process dies). A starting server fails only the unfinished runs whose
owner's lock is free: runs another live process is still working on are left to it.
"""

from __future__ import annotations

from collections.abc import Callable

from memgpt.schemas import new_id, utcnow
from memgpt.store.base import Run, RunStatus, RunStep
from memgpt.store.sql.seam import Row, Seam

_ENDED = ("completed", "failed", "cancelled")
_STEP_COLUMNS = (
    "id, run_id, agent_id, model, prompt_tokens, completion_tokens, cached_prompt_tokens,"
    " duration_ns, stop_reason, first_seq, last_seq, created_at"
)


class RunsSQL(Seam):
    _lease: tuple[str, Callable[[], None]] | None = None  # this store's owner id, its release

    def runs_owner(self) -> str:
        """The owner of the runs this store starts, alive while it is open."""
        if self._lease is None:
            owner = new_id("owner")
            release = self._try_lock(f"runs:{owner}")
            if release is None:  # a new name, so no one else can hold it
                raise RuntimeError(f"The lock of new run owner {owner} is taken.")
            self._lease = owner, release
        return self._lease[0]

    def end_runs_lease(self) -> None:
        if self._lease is not None:
            lease, self._lease = self._lease, None
            lease[1]()

    def _run_row(self, row: Row) -> Run:
        return self._record(Run, row, times=("created_at", "completed_at"))

    def create_run(self, run: Run) -> None:
        with self.unsynced_transaction():
            self._run(
                "INSERT INTO runs"
                " (id, agent_id, status, background, stop_reason, created_at, owner)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    run.id,
                    run.agent_id,
                    run.status,
                    int(run.background),
                    run.stop_reason,
                    self._ts(run.created_at),
                    run.owner,
                ),
            )

    def get_run(self, run_id: str) -> Run | None:
        row = self._one("SELECT * FROM runs WHERE id = ?", (run_id,))
        return self._run_row(row) if row else None

    def list_runs(
        self,
        agent_ids: list[str],
        statuses: list[str] | None,
        limit: int,
        newest_first: bool,
        after: str | None = None,
        *,
        background: bool | None = None,
        stop_reason: str | None = None,
    ) -> list[Run]:
        where, params = self._any("agent_id", agent_ids)
        if statuses:
            status_where, status_params = self._any("status", statuses)
            where, params = f"{where} AND {status_where}", params + status_params
        if background is not None:
            where, params = f"{where} AND background = ?", [*params, int(background)]
        if stop_reason is not None:
            where, params = f"{where} AND stop_reason = ?", [*params, stop_reason]
        rows = self._runs_page("runs", "*", where, params, limit, newest_first, after)
        return [self._run_row(r) for r in rows]

    def _runs_page(
        self,
        table: str,
        columns: str,
        where: str,
        params: list,
        limit: int,
        newest_first: bool,
        after: str | None,
    ) -> list[Row]:
        """Keyed paging by (created_at, id): the rows past the one with id `after` in the
        listing's order, so the SDKs' page-by-page iteration ends."""
        order, past = ("DESC", "<") if newest_first else ("ASC", ">")
        if after is not None:
            where += (
                f" AND (created_at, id) {past} (SELECT created_at, id FROM {table} WHERE id = ?)"
            )
            params = [*params, after]
        return self._query(
            f"SELECT {columns} FROM {table} WHERE {where}"
            f" ORDER BY created_at {order}, id {order} LIMIT ?",
            (*params, limit),
        )

    def set_run_status(
        self, run_id: str, status: RunStatus, stop_reason: str | None = None
    ) -> bool:
        """Move a run that has not ended to `status`; False when it had already ended (or
        had that status: a run started in its turn begins running, and is not written
        again)."""
        ended = status in _ENDED
        with self.unsynced_transaction():
            changed = self._run(
                "UPDATE runs SET status = ?, stop_reason = ?, completed_at = ?"
                " WHERE id = ? AND status NOT IN ('completed', 'failed', 'cancelled', ?)",
                (status, stop_reason, self._ts(utcnow()) if ended else None, run_id, status),
            )
        return changed > 0

    def run_cancelled(self, run_id: str) -> bool:
        """Whether the run was cancelled, or deleted: either stops it before its next step."""
        row = self._one("SELECT status FROM runs WHERE id = ?", (run_id,))
        return row is None or row["status"] == "cancelled"

    def fail_orphaned_runs(self) -> int:
        """Fail the runs left created or running by processes that are gone (their owner's
        lock is free, or they have none: written before runs had owners); nothing will
        finish them. Return how many."""
        mine = self._lease[0] if self._lease else None
        rows = self._query("SELECT DISTINCT owner FROM runs WHERE status IN ('created', 'running')")
        failed = 0
        for owner in [r["owner"] for r in rows]:
            if owner is not None:
                if owner == mine:
                    continue
                release = self._try_lock(f"runs:{owner}")
                if release is None:
                    continue  # its process is alive and will finish them
                release()  # an owner id is never used again: its runs stay orphaned
            with self.transaction():
                failed += self._run(
                    "UPDATE runs SET status = 'failed', stop_reason = 'error', completed_at = ?"
                    " WHERE status IN ('created', 'running') AND "
                    + ("owner IS NULL" if owner is None else "owner = ?"),
                    (self._ts(utcnow()), *([] if owner is None else [owner])),
                )
        return failed

    def delete_run(self, run_id: str) -> bool:
        """Delete a run with its steps (their messages stay in recall storage); False if
        there is none. A run still under way stops before its next step."""
        with self.transaction():
            return self._run("DELETE FROM runs WHERE id = ?", (run_id,)) > 0

    def record_step(self, step: RunStep) -> None:
        """Record the step in the transaction committing its messages; a step whose run was
        deleted meanwhile commits its messages alone. The run's row stays locked until the
        commit, so a delete waits for it and then takes the step with the run."""
        if not self._one(f"SELECT 1 FROM runs WHERE id = ?{self._for_update}", (step.run_id,)):
            return
        self._run(
            f"INSERT INTO steps ({_STEP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                step.id,
                step.run_id,
                step.agent_id,
                step.model,
                step.prompt_tokens,
                step.completion_tokens,
                step.cached_prompt_tokens,
                step.duration_ns,
                step.stop_reason,
                step.first_seq,
                step.last_seq,
                self._ts(step.created_at),
            ),
        )

    def get_step(self, step_id: str) -> RunStep | None:
        row = self._one(f"SELECT {_STEP_COLUMNS} FROM steps WHERE id = ?", (step_id,))
        return self._step_row(row) if row else None

    def list_steps(
        self,
        agent_ids: list[str],
        run_id: str | None,
        limit: int,
        newest_first: bool,
        after: str | None = None,
    ) -> list[RunStep]:
        where, params = self._any("agent_id", agent_ids)
        if run_id is not None:
            where, params = f"{where} AND run_id = ?", [*params, run_id]
        rows = self._runs_page("steps", _STEP_COLUMNS, where, params, limit, newest_first, after)
        return [self._step_row(r) for r in rows]

    def _step_row(self, row: Row) -> RunStep:
        return self._record(RunStep, row)
