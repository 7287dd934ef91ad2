"""signatures: the first date and lowest build of every signature, and the signatures
first seen on a day."""

from __future__ import annotations

import datetime as dt

from crashflow.aggregation.jobs import DAY_REPORTS, DayJob, JobContext, day_bounds

class SignaturesJob(DayJob):
    """First date and lowest build of every signature. Days may run in any order and
    again: the earliest date and lowest build seen win."""

    name = "signatures"
    schedule = "*/10 * * * *"

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
