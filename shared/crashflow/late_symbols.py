"""Symbols that arrive after the crashes that needed them.

- Each crash's report row keeps the modules its stackwalk had no symbols for
  (``missing_modules``, keyed ``<debug file>/<debug id>``).
- Every symbol upload (any path) is recorded in ``symbol_uploads``; process instances read
  new records every few seconds (``UploadWatcher``) and stop trusting their cache of
  "the bucket has no such file" for those files, so the next crash uses them.
- The upload then queues for reprocessing the crashes of the last
  ``symbols_reprocess_days`` days that missed the uploaded modules (each crash once, at
  most ``symbols_reprocess_max`` per upload), newest first.
- The missing-symbols report lists, per day and product, the modules crashes needed and
  nobody has uploaded since: what a build team needs to find its forgotten uploads.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from crashflow.stores.layout import symbol_key


def module_id(debug_file: object, debug_id: object) -> str | None:
    """``<debug file leaf>/<debug id>``, the identity of a module's symbol file (its
    symbol key without the file name), or None when either part is not a safe name."""
    key = symbol_key(debug_file, debug_id)
    return key.rsplit("/", 1)[0] if key else None


def missing_modules(processed: dict) -> dict[str, dict] | None:
    """The report row's ``missing_modules``: module id -> debug_file, debug_id, code_file,
    code_id of every module the stackwalk had no symbols for; None when there are none."""
    found = {}
    for module in (processed.get("json_dump") or {}).get("modules") or []:
        if not isinstance(module, dict) or module.get("missing_symbols") is not True:
            continue
        identity = module_id(module.get("debug_file"), module.get("debug_id"))
        if identity is not None:
            debug_file = identity.rsplit("/", 1)[0]
            found[identity] = {
                "debug_file": debug_file, "debug_id": module["debug_id"],
                "code_file": module.get("code_file") or module.get("filename") or "",
                "code_id": module.get("code_id") or "",
            }
    return found or None


class SymbolUploads:
    """The ``symbol_uploads`` records, in Postgres."""

    def __init__(self, database):
        self.database = database

    def record(self, symbol_keys: Iterable[str]) -> None:
        rows = [(key.rsplit("/", 1)[0], key) for key in symbol_keys]
        if not rows:
            return
        with self.database.connection() as connection:
            connection.run(
                "INSERT INTO symbol_uploads (module, symbol_key) "
                "SELECT * FROM unnest(CAST(:modules AS text[]), CAST(:keys AS text[]))",
                modules=[module for module, _ in rows], keys=[key for _, key in rows],
            )

    def since(self, last_id: int | None) -> tuple[int, list[str]]:
        """The symbol keys recorded after record ``last_id`` (None: none, only the latest
        id, to start from), and the latest id."""
        with self.database.connection() as connection:
            if last_id is None:
                return connection.run("SELECT coalesce(max(id), 0) FROM symbol_uploads")[0][0], []
            rows = connection.run(
                "SELECT id, symbol_key FROM symbol_uploads WHERE id > :last ORDER BY id", last=last_id)
        return (rows[-1][0] if rows else last_id), [key for _, key in rows]


class UploadWatcher:
    """Forgets, in a process's missing-symbols cache, the files uploaded since it last
    looked; looks at most every ``interval`` seconds (one small query), and never lets a
    failure stop processing (the cache then just keeps its entries for their TTL)."""

    def __init__(self, uploads: SymbolUploads, forget, interval: float = 2.0):
        self.uploads = uploads
        self.forget = forget
        self.interval = interval
        self._last_id: int | None = None
        self._next = 0.0
        self._lock = threading.Lock()

    def poll(self) -> int:
        """Forget what was uploaded since the last poll, when one is due; how many keys."""
        with self._lock:
            if time.monotonic() < self._next:
                return 0
            self._next = time.monotonic() + self.interval
            try:
                self._last_id, keys = self.uploads.since(self._last_id)
            except Exception:  # Postgres down: the processor reports that elsewhere
                return 0
        for key in keys:
            self.forget(key)
        return len(keys)


def crashes_missing(connection, module_ids: list[str], days: int, limit: int) -> list[str]:
    """Crash ids of the last ``days`` days whose stackwalk missed any of ``module_ids``,
    newest first, each once, at most ``limit``."""
    if not module_ids or limit <= 0:
        return []
    rows = connection.run(
        "SELECT uuid FROM reports WHERE date_processed >= now() - make_interval(days => :days) "
        "AND missing_modules ?| CAST(:ids AS text[]) "
        "GROUP BY uuid ORDER BY max(date_processed) DESC LIMIT :limit",
        days=days, ids=module_ids, limit=limit,
    )
    return [row[0] for row in rows]


@dataclass
class MissingSymbol:
    debug_file: str
    debug_id: str
    code_file: str
    code_id: str
    crash_count: int


def missing_symbols_report(connection, day: dt.date, product: str | None = None) -> list[MissingSymbol]:
    """The modules the crashes submitted on ``day`` (UTC; of ``product``) had no symbols for
    and that no upload has brought since the crash was processed, most crashes first."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
    rows = connection.run(
        "SELECT entry.value->>'debug_file', entry.value->>'debug_id', "
        "       max(entry.value->>'code_file'), max(entry.value->>'code_id'), count(DISTINCT r.uuid) "
        "FROM reports r CROSS JOIN LATERAL jsonb_each(r.missing_modules) AS entry "
        "WHERE r.date_processed >= :start AND r.date_processed < :end "
        "AND (CAST(:product AS text) IS NULL OR r.product = :product) "
        "AND NOT EXISTS (SELECT 1 FROM symbol_uploads u WHERE u.module = entry.key "
        "                AND u.uploaded >= r.completed_datetime) "
        "GROUP BY 1, 2 ORDER BY 5 DESC, 1, 2",
        start=start, end=start + dt.timedelta(days=1), product=product,
    )
    return [MissingSymbol(*row) for row in rows]


class SymbolsArrived:
    """What an upload sets off once its files are stored (collect, any upload path): the
    record every process instance reads, then the reprocessing of the crashes that missed
    the files' modules."""

    QUEUE = "reprocessing"
    BATCH = 10  # SQS's most messages per send

    def __init__(self, settings, database, queues):
        self.settings = settings
        self.database = database
        self.uploads = SymbolUploads(database)
        self.queues = queues

    def __call__(self, symbol_keys: list[str]) -> list[str]:
        """Record ``symbol_keys`` and queue the crashes that need them; the crash ids queued."""
        self.uploads.record(symbol_keys)
        modules = sorted({key.rsplit("/", 1)[0] for key in symbol_keys})
        with self.database.connection() as connection:
            crash_ids = crashes_missing(connection, modules, self.settings.symbols_reprocess_days,
                                        self.settings.symbols_reprocess_max)
        refused = []
        for start in range(0, len(crash_ids), self.BATCH):
            refused += self.queues.publish_batch(self.QUEUE, crash_ids[start : start + self.BATCH])
        if refused:
            raise RuntimeError(f"the reprocessing queue refused {len(refused)} of {len(crash_ids)} crash ids")
        return crash_ids
