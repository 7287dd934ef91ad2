"""Explosiveness: how suddenly a signature's daily crash count grew, as Socorro scored it.

With ``c0`` the day's count and ``c1..c9`` the nine days before (a day without crashes
counts 0), per product and signature:

- one-day score = (c0 - mean(c1..c9)) / max(max(c1..c9) - mean(c1..c9), floor)
- three-day score = (mean(c0..c2) - mean(c3..c9)) / max(stddev(c3..c9), floor)

``floor`` (``explosiveness_floor`` crashes) keeps a signature that never crashed before from
scoring infinity. Counts come from ``top_crashers_by_product``: run top_crashers first.
"""

from __future__ import annotations

import datetime as dt

from crashflow.aggregation.jobs import DayJob, JobContext

def scores_sql(history: str) -> str:
    """``product, signature, day_count, oneday, threeday`` of every signature that crashed on
    ``:day``, from ``history``: a table or subquery of (report_date, product, signature,
    report_count) rows (``:floor`` is the floor). The alert rules score version-limited
    counts with it too."""
    return f"""
SELECT product, signature, c0 AS day_count,
       (c0 - sum9 / 9.0) / greatest(max9 - sum9 / 9.0, :floor) AS oneday,
       (sum3 / 3.0 - sum7 / 7.0)
           / greatest(sqrt(greatest(squares7 - sum7 * sum7 / 7.0, 0) / 6.0), :floor) AS threeday
FROM (
    SELECT product, signature,
           sum(report_count) FILTER (WHERE report_date = :day) AS c0,
           coalesce(sum(report_count) FILTER (WHERE report_date < :day), 0) AS sum9,
           coalesce(max(report_count) FILTER (WHERE report_date < :day), 0) AS max9,
           coalesce(sum(report_count) FILTER (WHERE report_date > :day - 3), 0) AS sum3,
           coalesce(sum(report_count) FILTER (WHERE report_date <= :day - 3), 0) AS sum7,
           coalesce(sum(report_count::float8 * report_count) FILTER (WHERE report_date <= :day - 3), 0)
               AS squares7
    FROM {history} AS history_rows
    WHERE report_date > :day - 10 AND report_date <= :day
    GROUP BY product, signature
) AS history
WHERE c0 > 0
"""


SCORES_SQL = (
    "INSERT INTO explosiveness (report_date, product, signature, day_count, oneday, threeday) "
    f"SELECT :day, * FROM ({scores_sql('top_crashers_by_product')}) AS scores"
)


class ExplosivenessJob(DayJob):
    name = "explosiveness"
    schedule = "15 * * * *"

    def run_day(self, context: JobContext, day: dt.date) -> int:
        connection = context.connection
        connection.run("DELETE FROM explosiveness WHERE report_date = :day", day=day)
        connection.run(SCORES_SQL, day=day, floor=float(context.settings.explosiveness_floor))
        return connection.row_count


EXPLOSIVENESS = ExplosivenessJob()
