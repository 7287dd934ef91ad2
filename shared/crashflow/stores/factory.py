"""The one place that builds crashflow's stores: ``Stores.from_settings(settings, role)``.

A role is the kind of process the stores serve, and says how many connections it needs
(one per thread that uses a store at once) and how long it may wait:

- ``collector``: the crash upload path. Its HBase rows and queue publishes are
  conveniences after the crash is in S3, so they give up within seconds.
- ``processor``, ``query``: as many HBase and Postgres connections as the function has
  request threads (functions-framework's gunicorn: 4 per CPU for process; query: 8).
- ``jobs``: the aggregation jobs (one at a time per job).
- ``cli``, ``relay``: one command, one loop.

Each store is made on first use, so a role builds only what it uses, and a process starts
(and answers its health check) while a store is down.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

from crashflow.settings import Settings
from crashflow.stores.crashes import CrashRepository
from crashflow.stores.hbase import CrashTable
from crashflow.stores.interfaces import (
    CrashQueue,
    CrashRecords,
    RawCrashStorage,
    ReportRows,
    SymbolFiles,
    SymbolUploads,
)
from crashflow.stores.postgres import Database, SymbolUploadRecords
from crashflow.stores.s3 import CrashStorage, SymbolStorage
from crashflow.stores.sqs import CrashQueues, collector_sender

T = TypeVar("T")


def _request_threads() -> int:
    return 4 * (os.cpu_count() or 1)


# role -> HBase and Postgres connections per process
POOL_SIZES: dict[str, Callable[[], int]] = {
    "collector": lambda: 4,
    "processor": _request_threads,
    "query": lambda: 8,
    "jobs": lambda: 4,
    "cli": lambda: 2,
    "relay": lambda: 1,
}
ROLES = tuple(POOL_SIZES)


class Stores:
    """The stores of one process; thread-safe, each built once. Stores given by name
    (``Stores(settings, role, queues=MemoryQueues())``, in unit tests) are used as they are."""

    def __init__(
        self,
        settings: Settings,
        role: str,
        *,
        raw_crashes: RawCrashStorage | None = None,
        records: CrashRecords | None = None,
        reports: ReportRows | None = None,
        queues: CrashQueue | None = None,
        symbols: SymbolFiles | None = None,
        symbol_uploads: SymbolUploads | None = None,
    ):
        if role not in POOL_SIZES:
            raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
        self.settings = settings
        self.role = role
        self.pool_size = POOL_SIZES[role]()
        given = dict(raw_crashes=raw_crashes, records=records, reports=reports, queues=queues, symbols=symbols,
                     symbol_uploads=symbol_uploads)
        self._built: dict[str, object] = {name: store for name, store in given.items() if store is not None}
        # Reentrant: building the crash repository builds the stores it is made of.
        self._lock = threading.RLock()

    @classmethod
    def from_settings(cls, settings: Settings, role: str) -> Stores:
        return cls(settings, role)

    def _once(self, name: str, build: Callable[[], T]) -> T:
        with self._lock:
            if name not in self._built:
                self._built[name] = build()
            return self._built[name]  # type: ignore[return-value]

    @property
    def raw_crashes(self) -> RawCrashStorage:
        """The crash bucket (S3)."""
        return self._once("raw_crashes", lambda: CrashStorage(self.settings))

    @property
    def records(self) -> CrashRecords:
        """The crash records (HBase)."""
        # With HBase down, its Thrift gateway keeps retrying for minutes: the collector's
        # best-effort row writes give up quickly instead.
        timeout = self.settings.hbase_collector_timeout_ms if self.role == "collector" else None
        return self._once("records", lambda: CrashTable(self.settings, pool_size=self.pool_size, timeout_ms=timeout))

    @property
    def reports(self) -> ReportRows:
        """PostgreSQL: report rows, aggregates, job runs, tokens."""
        return self._once("reports", lambda: Database(self.settings, size=self.pool_size))

    @property
    def queues(self) -> CrashQueue:
        """The crash queues (SQS)."""
        if self.role == "collector":
            return self._once("queues", lambda: CrashQueues(self.settings, sender=collector_sender(self.settings)))
        return self._once("queues", lambda: CrashQueues(self.settings))

    @property
    def symbols(self) -> SymbolFiles:
        """The symbols bucket (S3)."""
        return self._once("symbols", lambda: SymbolStorage(self.settings))

    @property
    def symbol_uploads(self) -> SymbolUploads:
        """The symbol upload records and the crashes' missing modules (PostgreSQL)."""
        return self._once("symbol_uploads", lambda: SymbolUploadRecords(self.reports))

    @property
    def crashes(self) -> CrashRepository:
        """Crashes across the crash bucket and the crash records."""
        return self._once("crashes", lambda: CrashRepository(self.records, self.raw_crashes))

    def health(self, *names: str) -> dict[str, bool]:
        """Whether each named store (``s3``, ``sqs``, ``hbase``, ``postgres``) answers now."""
        stores = {"s3": lambda: self.raw_crashes, "sqs": lambda: self.queues,
                  "hbase": lambda: self.records, "postgres": lambda: self.reports}
        return {name: stores[name]().is_healthy() for name in names}
