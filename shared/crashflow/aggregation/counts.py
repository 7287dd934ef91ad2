"""Day counts straight from ``reports``: crashes per day, top crashers (per version and
process type, and per product), and signatures' first appearance."""

from __future__ import annotations

import datetime as dt

from crashflow.aggregation.jobs import DayJob, JobContext, RebuildJob, RebuildStep, day_bounds

# Socorro's platform split; anything not Windows, macOS or Linux is "other".
PLATFORM_COUNTS = """
    count(*) FILTER (WHERE os_name ILIKE 'windows%'),
    count(*) FILTER (WHERE os_name ILIKE 'mac%' OR os_name ILIKE 'darwin%'),
    count(*) FILTER (WHERE os_name ILIKE 'linux%'),
    count(*) FILTER (WHERE os_name IS NULL OR NOT (os_name ILIKE 'windows%' OR os_name ILIKE 'mac%'
                     OR os_name ILIKE 'darwin%' OR os_name ILIKE 'linux%')),
"""
HANGS_AND_INSTALLS = """
    count(*) FILTER (WHERE report_type = 'hang'),
    count(DISTINCT install_time)
"""
DAY_REPORTS = "FROM reports WHERE date_processed >= :start AND date_processed < :end"

CRASHES_PER_DAY = RebuildJob(
    "crashes_per_day",
    RebuildStep("crashes_per_day", f"""
        INSERT INTO crashes_per_day
            (report_date, product, version, os_name, process_type, report_type, report_count)
        SELECT :day, coalesce(product, ''), coalesce(version, ''), coalesce(os_name, ''),
               coalesce(process_type, ''), coalesce(report_type, ''), count(*)
        {DAY_REPORTS}
        GROUP BY 2, 3, 4, 5, 6
    """),
)

TOP_CRASHERS = RebuildJob(
    "top_crashers",
    RebuildStep("top_crashers", f"""
        INSERT INTO top_crashers
            (report_date, product, version, process_type, signature, report_count,
             win_count, mac_count, lin_count, other_count, hang_count, install_count)
        SELECT :day, coalesce(product, ''), coalesce(version, ''), coalesce(process_type, ''),
               coalesce(signature, ''), count(*), {PLATFORM_COUNTS} {HANGS_AND_INSTALLS}
        {DAY_REPORTS}
        GROUP BY 2, 3, 4, 5
    """),
    # Installations are counted again over all versions and process types: the distinct
    # counts of the finer rows do not add up.
    RebuildStep("top_crashers_by_product", f"""
        INSERT INTO top_crashers_by_product
            (report_date, product, signature, report_count,
             win_count, mac_count, lin_count, other_count, hang_count, install_count)
        SELECT :day, coalesce(product, ''), coalesce(signature, ''), count(*),
               {PLATFORM_COUNTS} {HANGS_AND_INSTALLS}
        {DAY_REPORTS}
        GROUP BY 2, 3
    """),
)


class SignaturesJob(DayJob):
    """First date and lowest build of every signature. Days may run in any order and
    again: the earliest date and lowest build seen win."""

    name = "signatures"

    def run_day(self, context: JobContext, day: dt.date) -> int:
        start, end = day_bounds(day)
        context.connection.run(f"""
            INSERT INTO signatures AS s (signature, first_date, first_build)
            SELECT signature, min(date_processed), min(build)
            {DAY_REPORTS} AND signature IS NOT NULL AND signature <> ''
            GROUP BY signature
            ON CONFLICT (signature) DO UPDATE
                SET first_date = least(s.first_date, EXCLUDED.first_date),
                    first_build = least(s.first_build, EXCLUDED.first_build)
                WHERE EXCLUDED.first_date < s.first_date
                   OR EXCLUDED.first_build < s.first_build
                   OR (s.first_build IS NULL AND EXCLUDED.first_build IS NOT NULL)
        """, start=start, end=end)
        return context.connection.row_count


def new_signatures(connection, day: dt.date) -> list[tuple[str, dt.datetime, str | None]]:
    """The signatures first seen on ``day``: (signature, first_date, first_build)."""
    start, end = day_bounds(day)
    return [tuple(row) for row in connection.run(
        "SELECT signature, first_date, first_build FROM signatures "
        "WHERE first_date >= :start AND first_date < :end ORDER BY first_date, signature",
        start=start, end=end,
    )]


SIGNATURES = SignaturesJob()
