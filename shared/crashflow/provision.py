"""Creates what crashflow needs in its stores: buckets, queues, HBase tables, schema.
Every step is idempotent, so ``crashflow setup`` may run on every start."""

from __future__ import annotations

from crashflow.settings import Settings
from crashflow.stores import postgres, s3
from crashflow.stores.factory import Stores


def provision(settings: Settings) -> None:
    for bucket in (settings.crash_bucket, settings.symbols_bucket):
        s3.ensure_bucket(settings, bucket)
    stores = Stores.from_settings(settings, "cli")
    stores.queues.ensure_queues()
    stores.records.ensure_tables()
    postgres.upgrade(settings)
