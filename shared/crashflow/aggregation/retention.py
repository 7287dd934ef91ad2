"""retention: what is older than its configured age goes, in bounded batches.

- ``retention_processed_days``: weekly ``reports`` partitions that ended before the
  cutoff are dropped, and HBase crash records (with their index rows) submitted before it.
- ``retention_raw_days``: raw crashes in S3 (``v1/raw_crash/<day>/``), with their dumps.
  Never shorter than the processed retention (the settings refuse it): HBase keeps the
  raw annotations next to the processed crash, and they go at the processed cutoff.
- ``retention_dumps_days`` (at most the raw retention): dumps and dump names only. A day
  whose dumps are all gone is noted in ``retention_done`` and not listed again.
- Symbol files uploaded through sym-upload-v2 but never completed: gone after a day.
"""

from __future__ import annotations

import datetime as dt
import logging

from crashflow.aggregation.jobs import Job, JobContext
from crashflow.aggregation.partitions import report_partitions

log = logging.getLogger(__name__)

# How long a sym-upload-v2 file may wait for its complete call.
STAGED_SYMBOLS_MAX_AGE = dt.timedelta(days=1)


class RetentionJob(Job):
    name = "retention"
    schedule = "20 3 * * *"

    def run(self, context: JobContext, start: dt.date, end: dt.date) -> int:
        settings, today = context.settings, context.now.date()
        processed_cutoff = today - dt.timedelta(days=settings.retention_processed_days)
        raw_cutoff = today - dt.timedelta(days=settings.retention_raw_days)
        dumps_cutoff = today - dt.timedelta(days=settings.retention_dumps_days)
        removed = self.drop_report_partitions(context, processed_cutoff)
        while deleted := context.stores.records.delete_crashes_submitted_before(
            processed_cutoff.isoformat(), settings.retention_batch_size
        ):
            removed += deleted
        removed += self.delete_s3(context, raw_cutoff, dumps_cutoff)
        removed += self.delete_abandoned_symbol_uploads(context)
        return removed

    def delete_abandoned_symbol_uploads(self, context: JobContext) -> int:
        symbols = context.stores.symbols
        abandoned = symbols.staged_before(context.now - STAGED_SYMBOLS_MAX_AGE)
        for key in abandoned:
            symbols.delete(key)
        return len(abandoned)

    def drop_report_partitions(self, context: JobContext, cutoff: dt.date) -> int:
        dropped = 0
        for name, first_day in report_partitions(context.connection).items():
            if first_day + dt.timedelta(weeks=1) <= cutoff:
                context.connection.run(f"DROP TABLE IF EXISTS {name}")
                log.info("retention: dropped %s", name)
                dropped += 1
        return dropped

    def delete_s3(self, context: JobContext, raw_cutoff: dt.date, dumps_cutoff: dt.date) -> int:
        storage, batch, connection = context.stores.raw_crashes, context.settings.retention_batch_size, context.connection
        dumps_done = {day for (day,) in connection.run("SELECT day FROM retention_done WHERE kind = 'dumps'")}
        deleted = 0
        for day in storage.raw_crash_days():
            if day < raw_cutoff:
                # Each batch deletes what it listed: list from the start until nothing is left.
                while crash_ids := storage.raw_crash_ids(day, batch):
                    storage.delete_crashes(crash_ids, raw=True)
                    deleted += len(crash_ids)
            elif day < dumps_cutoff and day not in dumps_done:
                after = ""
                while crash_ids := storage.raw_crash_ids(day, batch, after):
                    storage.delete_crashes(crash_ids, raw=False)
                    deleted += len(crash_ids)
                    after = crash_ids[-1]
                connection.run("INSERT INTO retention_done (kind, day) VALUES ('dumps', :day) "
                               "ON CONFLICT DO NOTHING", day=day)
        connection.run("DELETE FROM retention_done WHERE day < :cutoff", cutoff=raw_cutoff)
        return deleted


RETENTION = RetentionJob()
