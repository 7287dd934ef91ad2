"""Creates what crashflow needs in its stores: buckets, queues, HBase tables, schema.
Every step is idempotent, so ``crashflow setup`` may run on every start."""

from __future__ import annotations

from crashflow.settings import Settings
from crashflow.stores import hbase, postgres, s3, sqs


def provision(settings: Settings) -> None:
    for bucket in (settings.crash_bucket, settings.symbols_bucket):
        s3.ensure_bucket(settings, bucket)
    sqs.CrashQueues(settings).ensure_queues()
    hbase.CrashTable(settings).ensure_tables()
    postgres.upgrade(settings)
