"""Runs aggregation jobs over a window of days: one run at a time per job (a Postgres
advisory lock), each run recorded in ``job_runs`` (window, start, end, ok/error, rows
written), and, when no window is given, resuming from where the last success left off."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
import zlib
from dataclasses import dataclass

from crashflow import metrics
from crashflow.aggregation import JOB_NAMES, JOBS
from crashflow.aggregation.jobs import Job, JobContext, JobSkipped
from crashflow.alerts import evaluate_after
from crashflow.api.answers import OVERVIEW_DEPENDENCIES
from crashflow.stores.errors import StoreUnavailable
from crashflow.stores.factory import Stores
from crashflow.web.precompute import precompute

log = logging.getLogger(__name__)

BY_NAME: dict[str, Job] = {job.name: job for job in JOBS}

MAX_ERROR_CHARS = 4000


class UnknownJob(ValueError):
    pass


@dataclass
class JobRun:
    job: str
    start: dt.date
    end: dt.date
    status: str  # ok, error, or skipped (another run of the job holds the lock, or not configured)
    rows_written: int = 0
    error: str | None = None


def _lock_key(name: str) -> int:
    return zlib.crc32(f"crashflow-job:{name}".encode())


def _successes(connection, name: str) -> list[tuple[dt.date, dt.datetime]]:
    """(window_end, started) of the job's latest successful runs."""
    return [tuple(row) for row in connection.run(
        "SELECT window_end, started FROM job_runs WHERE job = :job AND status = 'ok' "
        "ORDER BY started DESC LIMIT 100", job=name,
    )]


def default_window(
    successes: list[tuple[dt.date, dt.datetime]], now: dt.datetime, late: dt.timedelta
) -> tuple[dt.date, dt.date]:
    """The days a scheduled run covers: from the day the last success left off to today.

    A run that started at T covered its window's reports up to T - ``late`` (reports of
    the last minutes may still be processing), so an hourly run recomputes today only,
    and a gap since the last success is filled. Without any success: yesterday and today.
    """
    today = now.date()
    covered = [
        min(started - late, dt.datetime.combine(window_end + dt.timedelta(days=1), dt.time(), dt.timezone.utc))
        for window_end, started in successes
    ]
    start = max(covered).astimezone(dt.timezone.utc).date() if covered else today - dt.timedelta(days=1)
    return min(start, today), today


def run_job(
    stores: Stores,
    name: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
    now: dt.datetime | None = None,
    precompute: bool = True,
) -> JobRun:
    """Run job ``name`` for every day in [start, end] (inclusive), or its default window;
    then (``precompute``), if the overview pages read what it wrote, their answers."""
    if name not in BY_NAME:
        raise UnknownJob(f"unknown job {name!r}; jobs: {', '.join(JOB_NAMES)}, or all")
    job, settings, database = BY_NAME[name], stores.settings, stores.reports
    now = now or dt.datetime.now(dt.timezone.utc)
    check_window(start, end)
    end = end or start

    run = run_id = None
    try:
        with database.connection() as connection:
            if not connection.run("SELECT pg_try_advisory_lock(:key)", key=_lock_key(name))[0][0]:
                log.info("job %s is already running; skipped", name)
                return JobRun(name, start or now.date(), end or now.date(), "skipped", error="already running")
            try:
                # Holding the lock, any run still marked running died with its process.
                connection.run(
                    "UPDATE job_runs SET status = 'error', finished = now(), "
                    "error = 'interrupted: the run stopped without recording its end' "
                    "WHERE job = :job AND status = 'running'", job=name,
                )
                successes = _successes(connection, name)
                if start is None:
                    if job.per_day:
                        start, end = default_window(successes, now, dt.timedelta(hours=settings.aggregation_late_hours))
                    else:
                        start = end = now.date()
                run_id = connection.run(
                    "INSERT INTO job_runs (job, window_start, window_end) VALUES (:job, :start, :end) RETURNING id",
                    job=name, start=start, end=end,
                )[0][0]
                context = JobContext(
                    settings, stores, connection, now,
                    last_success=max((started for _, started in successes), default=None),
                )
                run = JobRun(name, start, end, "ok")
                try:
                    run.rows_written = job.run(context, start, end)
                except JobSkipped as reason:
                    run.status, run.error = "skipped", str(reason)
                    log.info("job %s skipped: %s", name, reason)
                except Exception as error:
                    run.status, run.error = "error", _describe(error)
                    run.rows_written = context.rows_written
                    log.exception("job %s failed for %s..%s", name, start, end)
                _record_end(connection, run, run_id)
                if run.status == "ok":
                    _evaluate_alerts(connection, settings, name, end, now)
            finally:
                connection.run("SELECT pg_advisory_unlock(:key)", key=_lock_key(name))
        if precompute:
            precompute_overview(stores, [run])
    except StoreUnavailable as error:
        if error.store != "postgres":
            raise
        # The connection died (the pool dropped it, and its session lock went with it). The
        # job's own error, if any, is the one to report: recorded on a new connection if
        # Postgres answers (else the next run marks the row interrupted).
        log.exception("job %s lost its database connection", name)
        if run is None:
            run = JobRun(name, start or now.date(), end or now.date(), "error")
        if run.status != "error":
            run.status, run.error = "error", _describe(error)
        if run_id is not None:
            with contextlib.suppress(Exception), database.connection() as connection:
                _record_end(connection, run, run_id)
    return run


def _evaluate_alerts(connection, settings, job: str, day: dt.date, now: dt.datetime) -> None:
    """The alert rules that read what ``job`` wrote, for the last day of its window when that
    is today or yesterday (a backfill of older days raises nothing). A failure is logged: the
    job's run stands."""
    if day < now.date() - dt.timedelta(days=1):
        return
    try:
        evaluate_after(job, connection, settings, day, now)
    except Exception:
        log.exception("alert rules after %s failed", job)


def precompute_overview(stores: Stores, runs: list[JobRun]) -> None:
    """The overview pages' answers (``crashflow.web.precompute``), if one of ``runs`` may
    have changed what they read (it finished, and wrote a table they read). A failure is
    logged: the runs stand, and the pages compute what they need themselves."""
    if not any(run.job in OVERVIEW_DEPENDENCIES and run.status in ("ok", "error") for run in runs):
        return
    try:
        precompute(stores.settings, stores.reports)
    except Exception:
        log.exception("precomputing the overview's answers failed")


def _record_end(connection, run: JobRun, run_id: int) -> None:
    connection.run(
        "UPDATE job_runs SET finished = now(), status = :status, rows_written = :rows, error = :error "
        "WHERE id = :id",
        status=run.status, rows=run.rows_written, error=run.error, id=run_id,
    )


def check_window(start: dt.date | None, end: dt.date | None) -> None:
    """ValueError for a window no job can run: an end without a start, or before it."""
    if end is not None and start is None:
        raise ValueError("a window end needs a start")
    if start is not None and end is not None and end < start:
        raise ValueError(f"window end {end} is before its start {start}")


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]


def run_jobs(stores: Stores, name: str, start=None, end=None, now=None) -> list[JobRun]:
    """Run one job, or every job in order for ``all`` (a failing job does not stop the next)."""
    if name != "all" and name not in BY_NAME:
        raise UnknownJob(f"unknown job {name!r}; jobs: {', '.join(JOB_NAMES)}, or all")
    check_window(start, end)
    names = JOB_NAMES if name == "all" else [name]
    runs = []
    for job in names:
        started = time.monotonic()
        try:
            runs.append(run_job(stores, job, start, end, now, precompute=False))
        except Exception as error:  # Postgres down, say: recorded here, as job_runs cannot
            log.exception("job %s could not run", job)
            today = (now or dt.datetime.now(dt.timezone.utc)).date()
            runs.append(JobRun(job, start or today, end or start or today, "error", error=_describe(error)))
        metrics.AGGREGATE_JOB_RUNS.labels(job, runs[-1].status).inc()
        metrics.AGGREGATE_JOB_SECONDS.labels(job).observe(time.monotonic() - started)
        metrics.AGGREGATE_ROWS_WRITTEN.labels(job).inc(runs[-1].rows_written or 0)
    precompute_overview(stores, runs)
    return runs
