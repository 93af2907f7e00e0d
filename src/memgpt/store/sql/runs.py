"""Runs and their steps, written once for both dialects.

A step's row is written in the transaction that commits the step's messages, so a
step is recorded exactly when its messages are; a run's row changes status around it.
Those status writes skip the flush to disk (two fsyncs a message, ~18 ms of a ~20 ms
round trip on SQLite): the step's own commit flushes the run's creation with it, and a
power cut can at worst lose a run's last status, which the next start marks failed.
"""

from __future__ import annotations

from memgpt.schemas import utcnow
from memgpt.store.base import Run, RunStatus, RunStep
from memgpt.store.sql.seam import Row, Seam

_ENDED = ("completed", "failed", "cancelled")
_STEP_COLUMNS = (
    "id, run_id, agent_id, model, prompt_tokens, completion_tokens, cached_prompt_tokens,"
    " duration_ns, stop_reason, first_seq, last_seq, created_at"
)


class RunsSQL(Seam):
    def _run_row(self, row: Row) -> Run:
        return Run(
            id=row["id"],
            agent_id=row["agent_id"],
            status=row["status"],
            background=bool(row["background"]),
            stop_reason=row["stop_reason"],
            created_at=self._from_ts(row["created_at"]),
            completed_at=self._from_ts(row["completed_at"]) if row["completed_at"] else None,
        )

    def create_run(self, run: Run) -> None:
        with self.unsynced_transaction():
            self._run(
                "INSERT INTO runs (id, agent_id, status, background, stop_reason, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    run.id,
                    run.agent_id,
                    run.status,
                    int(run.background),
                    run.stop_reason,
                    self._ts(run.created_at),
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
    ) -> list[Run]:
        where, params = self._any("agent_id", agent_ids)
        if statuses:
            status_where, status_params = self._any("status", statuses)
            where, params = f"{where} AND {status_where}", params + status_params
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
        ended = status in _ENDED
        with self.unsynced_transaction():
            changed = self._run(
                "UPDATE runs SET status = ?, stop_reason = ?, completed_at = ?"
                " WHERE id = ? AND status NOT IN ('completed', 'failed', 'cancelled', ?)",
                (status, stop_reason, self._ts(utcnow()) if ended else None, run_id, status),
            )
        return changed > 0

    def run_cancelled(self, run_id: str) -> bool:
        row = self._one("SELECT status FROM runs WHERE id = ?", (run_id,))
        return row is not None and row["status"] == "cancelled"

    def fail_unfinished_runs(self) -> int:
        """Runs a stopped server left created or running: nothing will finish them."""
        with self.transaction():
            return self._run(
                "UPDATE runs SET status = 'failed', stop_reason = 'error', completed_at = ?"
                " WHERE status IN ('created', 'running')",
                (self._ts(utcnow()),),
            )

    def record_step(self, step: RunStep) -> None:
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
        fields = {k: row[k] for k in RunStep.model_fields if k != "created_at"}
        return RunStep(**fields, created_at=self._from_ts(row["created_at"]))
