"""crashes_per_day: crashes per day, product, version, OS, process type and report type,
counted straight from ``reports``."""

from __future__ import annotations

from crashflow.aggregation.jobs import DAY_REPORTS, RebuildJob, RebuildStep

CRASHES_PER_DAY = RebuildJob(
    "crashes_per_day",
    "*/10 * * * *",
    RebuildStep("crashes_per_day", f"""
        INSERT INTO crashes_per_day
            (report_date, product, version, os_name, process_type, report_type, report_count)
        SELECT :day, coalesce(product, ''), coalesce(version, ''), coalesce(os_name, ''),
               coalesce(process_type, ''), coalesce(report_type, ''), count(*)
        {DAY_REPORTS}
        GROUP BY 2, 3, 4, 5, 6
    """),
)
