"""top_crashers: per day, the crashes of each signature by product, version and process
type, with their platform split, hangs, startup crashes and installations; and the 7-day
sums the common ranking reads (``crashflow.api.topcrashers`` ranks them)."""

from __future__ import annotations

import datetime as dt

from crashflow.aggregation.jobs import DAY_REPORTS, DayJob, JobContext, day_bounds, days
from crashflow.stores.postgres import transaction

# Socorro's platform split; anything not Windows, macOS or Linux is "other". The
# processor writes the stackwalker's names ("Windows NT", "Mac OS X", "Linux"): a
# case-sensitive LIKE is several times cheaper than ILIKE over a day of reports.
PLATFORM = """
    CASE WHEN os_name LIKE 'Windows%' THEN 'win'
         WHEN os_name LIKE 'Mac%' OR os_name LIKE 'macOS%' OR os_name LIKE 'Darwin%' THEN 'mac'
         WHEN os_name LIKE 'Linux%' THEN 'lin'
         ELSE 'other' END
"""
# A startup crash, as crash-stats calls it: less than a minute after the application started.
STARTUP_SECONDS = 60
# One pass over the day's reports: counts per product, version, process type, signature
# and installation. Both top-crasher tables are sums over it, and counting its rows with
# an install time counts distinct installations without a sort.
DAY_INSTALLS_SQL = f"""
CREATE TEMPORARY TABLE day_installs ON COMMIT DROP AS
SELECT product, version, process_type, signature, install_time, count(*) AS reports,
       count(*) FILTER (WHERE platform = 'win') AS win,
       count(*) FILTER (WHERE platform = 'mac') AS mac,
       count(*) FILTER (WHERE platform = 'lin') AS lin,
       count(*) FILTER (WHERE platform = 'other') AS other,
       count(*) FILTER (WHERE report_type = 'hang') AS hangs,
       count(*) FILTER (WHERE report_type = 'hang' AND platform = 'win') AS win_hangs,
       count(*) FILTER (WHERE report_type = 'hang' AND platform = 'mac') AS mac_hangs,
       count(*) FILTER (WHERE report_type = 'hang' AND platform = 'lin') AS lin_hangs,
       count(*) FILTER (WHERE report_type = 'hang' AND platform = 'other') AS other_hangs,
       count(*) FILTER (WHERE uptime < {STARTUP_SECONDS}) AS startups
FROM (
    SELECT coalesce(product, '') AS product, coalesce(version, '') AS version,
           coalesce(process_type, '') AS process_type, coalesce(signature, '') AS signature,
           install_time, report_type, uptime, {PLATFORM} AS platform
    {DAY_REPORTS}
) AS day_reports
GROUP BY product, version, process_type, signature, install_time
"""
COUNT_SUMS = ("sum(reports), sum(win), sum(mac), sum(lin), sum(other), sum(hangs), sum(startups), "
              "sum(win_hangs), sum(mac_hangs), sum(lin_hangs), sum(other_hangs)")
# The count columns of the three tables, in COUNT_SUMS' order (install_count follows).
COUNT_COLUMNS = ("report_count, win_count, mac_count, lin_count, other_count, hang_count, startup_count, "
                 "win_hang_count, mac_hang_count, lin_hang_count, other_hang_count")
SUMMED_COUNTS = ", ".join(f"sum({column})" for column in COUNT_COLUMNS.split(", "))
SUM_DAYS = 7  # top_crashers_7_days


class TopCrashersJob(DayJob):
    """Per day, product, version, process type and signature (``top_crashers``), and per
    day, product and signature (``top_crashers_by_product``): counts, platform split,
    hangs and distinct installations; then per product and signature the sums of the 7
    days ending each day (``top_crashers_7_days``). The ranking is ``crashflow.api.topcrashers``."""

    name = "top_crashers"
    schedule = "*/10 * * * *"

    def run_day(self, context: JobContext, day: dt.date) -> int:
        connection = context.connection
        start, end = day_bounds(day)
        connection.run(DAY_INSTALLS_SQL, start=start, end=end)
        connection.run("DELETE FROM top_crashers WHERE report_date = :day", day=day)
        connection.run(f"""
            INSERT INTO top_crashers
                (report_date, product, version, process_type, signature, {COUNT_COLUMNS}, install_count)
            SELECT :day, product, version, process_type, signature, {COUNT_SUMS}, count(install_time)
            FROM day_installs GROUP BY product, version, process_type, signature
        """, day=day)
        written = connection.row_count
        # An installation may crash in several versions or process types: count it once.
        connection.run("DELETE FROM top_crashers_by_product WHERE report_date = :day", day=day)
        connection.run(f"""
            INSERT INTO top_crashers_by_product
                (report_date, product, signature, {COUNT_COLUMNS}, install_count)
            SELECT :day, product, signature, {COUNT_SUMS}, count(install_time)
            FROM (
                SELECT product, signature, install_time, sum(reports) AS reports, sum(win) AS win,
                       sum(mac) AS mac, sum(lin) AS lin, sum(other) AS other, sum(hangs) AS hangs,
                       sum(startups) AS startups, sum(win_hangs) AS win_hangs, sum(mac_hangs) AS mac_hangs,
                       sum(lin_hangs) AS lin_hangs, sum(other_hangs) AS other_hangs
                FROM day_installs GROUP BY product, signature, install_time
            ) AS installs
            GROUP BY product, signature
        """, day=day)
        return written + connection.row_count


    def run(self, context: JobContext, start: dt.date, end: dt.date) -> int:
        """The days, then the 7-day sums of every window that holds one of them (up to today)."""
        written = super().run(context, start, end)
        last = min(end + dt.timedelta(days=SUM_DAYS - 1), max(end, context.now.date()))
        for end_date in days(start, last):
            with transaction(context.connection):
                written += self.sum_window(context.connection, end_date)
            context.rows_written = written
        return written

    def sum_window(self, connection, end_date: dt.date) -> int:
        connection.run("DELETE FROM top_crashers_7_days WHERE end_date = :end", end=end_date)
        connection.run(f"""
            INSERT INTO top_crashers_7_days (end_date, product, signature, {COUNT_COLUMNS}, install_count)
            SELECT :end, product, signature, {SUMMED_COUNTS}, sum(install_count)
            FROM top_crashers_by_product
            WHERE report_date > CAST(:end AS date) - {SUM_DAYS} AND report_date <= :end
            GROUP BY product, signature
        """, end=end_date)
        return connection.row_count


TOP_CRASHERS = TopCrashersJob()
