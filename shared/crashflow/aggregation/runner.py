"""Runs aggregation jobs over a window of days: one at a time per job (advisory lock),
recorded in ``job_runs``, resuming after the last success when no window is given."""

from __future__ import annotations

import datetime as dt
import logging
import zlib
from dataclasses import dataclass

from crashflow.aggregation.jobs import JOBS
from crashflow.stores.postgres import Database

log = logging.getLogger(__name__)


class UnknownJob(ValueError):
    pass


class JobAlreadyRunning(RuntimeError):
    pass


@dataclass
class JobRun:
    job: str
    start: dt.date
    end: dt.date
    status: str
    rows_written: int = 0
    error: str | None = None


def _lock_key(name: str) -> int:
    return zlib.crc32(f"crashflow-job:{name}".encode())


def default_window(database: Database, name: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """From the day of the last successful run (or yesterday) to today: late crashes
    of yesterday are counted again, and a gap since the last success is filled."""
    with database.connection() as connection:
        rows = connection.run(
            "SELECT max(window_end) FROM job_runs WHERE job = :job AND status = 'ok'", job=name
        )
    last = rows[0][0] if rows and rows[0][0] else None
    start = today - dt.timedelta(days=1)
    if last is not None and last < start:
        start = last
    return start, today


def run_job(
    database: Database,
    name: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
    today: dt.date | None = None,
) -> JobRun:
    """Run job ``name`` for every day in [start, end] (inclusive)."""
    if name not in JOBS:
        raise UnknownJob(f"unknown job {name!r}; jobs: {', '.join(sorted(JOBS))}")
    job = JOBS[name]
    today = today or dt.datetime.now(dt.timezone.utc).date()
    if start is None:
        start, end = default_window(database, name, today)
    end = end or start
    if end < start:
        raise ValueError(f"window end {end} is before its start {start}")

    with database.connection() as connection:
        if not connection.run("SELECT pg_try_advisory_lock(:key)", key=_lock_key(name))[0][0]:
            raise JobAlreadyRunning(f"job {name} is already running")
        try:
            run_id = connection.run(
                "INSERT INTO job_runs (job, window_start, window_end) VALUES (:job, :start, :end) RETURNING id",
                job=name, start=start, end=end,
            )[0][0]
            run = JobRun(name, start, end, "ok")
            try:
                day = start
                while day <= end:
                    connection.run("BEGIN")
                    run.rows_written += job.run_day(connection, day)
                    connection.run("COMMIT")
                    day += dt.timedelta(days=1)
            except Exception as error:
                connection.run("ROLLBACK")
                run.status, run.error = "error", f"{type(error).__name__}: {error}"
                log.exception("job %s failed", name)
            connection.run(
                "UPDATE job_runs SET finished = now(), status = :status, rows_written = :rows, error = :error "
                "WHERE id = :id",
                status=run.status, rows=run.rows_written, error=run.error, id=run_id,
            )
        finally:
            connection.run("SELECT pg_advisory_unlock(:key)", key=_lock_key(name))
    return run


def run_jobs(database: Database, name: str, start=None, end=None, today=None) -> list[JobRun]:
    """Run one job, or every job for ``all``."""
    names = sorted(JOBS) if name == "all" else [name]
    return [run_job(database, job, start, end, today) for job in names]
