"""What every aggregation job is: a name, a default cron schedule (UTC) and
``run(context, start, end) -> rows written``.

Day jobs rebuild their tables one UTC day at a time, each day in its own transaction, so
a failure on one day leaves that day's earlier rows (and every finished day) intact.
"""

from __future__ import annotations

import abc
import datetime as dt
from dataclasses import dataclass

from crashflow.settings import Settings
from crashflow.stores.factory import Stores
from crashflow.stores.postgres import PgConnection, transaction


@dataclass
class JobContext:
    """What a job may use: settings, the stores and one Postgres connection (holding the
    job's lock), the time the run started and when the job last succeeded."""

    settings: Settings
    stores: Stores
    connection: PgConnection
    now: dt.datetime
    last_success: dt.datetime | None = None
    rows_written: int = 0  # by the finished days of a day job, should a later day fail


DAY_WORK_MEM = "64MB"
# The reports of one UTC day [:start, :end), by submit time.
DAY_REPORTS = "FROM reports WHERE date_processed >= :start AND date_processed < :end"


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a UTC day."""
    start = dt.datetime.combine(day, dt.time(), dt.timezone.utc)
    return start, start + dt.timedelta(days=1)


def days(start: dt.date, end: dt.date):
    """Every day of [start, end]."""
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


class JobSkipped(Exception):
    """Raised by a job that has nothing it may do (not configured): its run is recorded
    ``skipped`` with this reason, and does not count as a success."""


class Job(abc.ABC):
    """A job that runs once per call, whatever the window (bugs, partitions, retention).
    ``schedule`` is when it runs unless ``CRASHFLOW_SCHEDULES`` says otherwise."""

    name: str = ""
    schedule: str = ""
    per_day = False

    @abc.abstractmethod
    def run(self, context: JobContext, start: dt.date, end: dt.date) -> int:
        """Do the job for the window [start, end]; return the rows written."""


class DayJob(Job):
    """A job that runs day by day over its window, one transaction per day (with room to
    group a day's reports in memory)."""

    per_day = True

    def run(self, context: JobContext, start: dt.date, end: dt.date) -> int:
        for day in days(start, end):
            with transaction(context.connection):
                context.connection.run(f"SET LOCAL work_mem = '{DAY_WORK_MEM}'")
                written = self.run_day(context, day)
            context.rows_written += written
        return context.rows_written

    @abc.abstractmethod
    def run_day(self, context: JobContext, day: dt.date) -> int:
        """Rebuild ``day``'s rows; return how many were written."""


@dataclass(frozen=True)
class RebuildStep:
    """Delete ``table``'s rows of the day, then insert them again with ``insert_sql``
    (parameters ``:day``, ``:start``, ``:end``)."""

    table: str
    insert_sql: str


class RebuildJob(DayJob):
    """A day job made of rebuild steps: re-running a day gives the same tables."""

    def __init__(self, name: str, schedule: str, *steps: RebuildStep):
        self.name = name
        self.schedule = schedule
        self.steps = steps

    def run_day(self, context: JobContext, day: dt.date) -> int:
        connection = context.connection
        start, end = day_bounds(day)
        written = 0
        for step in self.steps:
            connection.run(f"DELETE FROM {step.table} WHERE report_date = :day", day=day)
            connection.run(step.insert_sql, day=day, start=start, end=end)
            written += connection.row_count
        return written
