"""partitions: the weekly ``reports`` partitions, created ahead of time."""

from __future__ import annotations

import datetime as dt
import logging

from crashflow.aggregation.jobs import Job, JobContext
from crashflow.stores.postgres import week_start

log = logging.getLogger(__name__)

PARTITIONS_SQL = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'reports'::regclass ORDER BY c.relname
"""


def report_partitions(connection) -> dict[str, dt.date]:
    """The ``reports`` partitions: name -> first day of its week."""
    found = {}
    for (name,) in connection.run(PARTITIONS_SQL):
        try:
            found[name] = dt.datetime.strptime(name.removeprefix("reports_"), "%Y%m%d").date()
        except ValueError:
            log.warning("reports partition %s does not follow reports_YYYYMMDD; left alone", name)
    return found


class PartitionsJob(Job):
    """Create the weekly ``reports`` partitions from this week to ``partitions_ahead_weeks``
    weeks ahead, so the processor's first insert of a week never waits for DDL."""

    name = "partitions"
    schedule = "5 0 * * *"

    def run(self, context: JobContext, start: dt.date, end: dt.date) -> int:
        # Whatever the window: a backfill must not bring back weeks retention dropped.
        before = set(report_partitions(context.connection))
        last = context.now.date() + dt.timedelta(weeks=context.settings.partitions_ahead_weeks)
        week = week_start(context.now.date())
        while week <= last:
            context.stores.reports.ensure_report_partition(week)
            week += dt.timedelta(weeks=1)
        return len(set(report_partitions(context.connection)) - before)


PARTITIONS = PartitionsJob()
