"""The aggregation jobs. Each rebuilds its table one UTC day at a time from ``reports``:
delete the day's rows, insert them again, in one transaction, so a re-run gives the same table."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

PLATFORM_COUNTS = """
    count(*) FILTER (WHERE os_name ILIKE 'windows%'),
    count(*) FILTER (WHERE os_name ILIKE 'mac%' OR os_name ILIKE 'darwin%'),
    count(*) FILTER (WHERE os_name ILIKE 'linux%'),
    count(*) FILTER (WHERE os_name IS NULL OR NOT (os_name ILIKE 'windows%' OR os_name ILIKE 'mac%'
                     OR os_name ILIKE 'darwin%' OR os_name ILIKE 'linux%')),
"""


@dataclass(frozen=True)
class DailyJob:
    """A job that rebuilds ``table`` for one day with ``insert_sql``
    (parameters ``:day``, ``:start``, ``:end``)."""

    name: str
    table: str
    insert_sql: str

    def run_day(self, connection, day: dt.date) -> int:
        start = dt.datetime.combine(day, dt.time(), dt.timezone.utc)
        end = start + dt.timedelta(days=1)
        connection.run(f"DELETE FROM {self.table} WHERE report_date = :day", day=day)
        connection.run(self.insert_sql, day=day, start=start, end=end)
        return connection.row_count


CRASHES_PER_DAY = DailyJob(
    name="crashes_per_day",
    table="crashes_per_day",
    insert_sql="""
        INSERT INTO crashes_per_day
            (report_date, product, version, os_name, process_type, report_type, report_count)
        SELECT :day, coalesce(product, ''), coalesce(version, ''), coalesce(os_name, ''),
               coalesce(process_type, ''), coalesce(report_type, ''), count(*)
        FROM reports
        WHERE date_processed >= :start AND date_processed < :end
        GROUP BY 2, 3, 4, 5, 6
    """,
)

TOP_CRASHERS = DailyJob(
    name="top_crashers",
    table="top_crashers",
    insert_sql=f"""
        INSERT INTO top_crashers
            (report_date, product, version, process_type, signature, report_count,
             win_count, mac_count, lin_count, other_count, hang_count)
        SELECT :day, coalesce(product, ''), coalesce(version, ''), coalesce(process_type, ''),
               coalesce(signature, ''), count(*),
               {PLATFORM_COUNTS}
               count(*) FILTER (WHERE report_type = 'hang')
        FROM reports
        WHERE date_processed >= :start AND date_processed < :end
        GROUP BY 2, 3, 4, 5
    """,
)

JOBS: dict[str, DailyJob] = {job.name: job for job in (CRASHES_PER_DAY, TOP_CRASHERS)}
