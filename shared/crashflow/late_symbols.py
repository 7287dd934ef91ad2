"""Symbols that arrive after the crashes that needed them.

- Each crash's report row keeps the modules its stackwalk had no symbols for
  (``missing_modules``, keyed by module id, ``<debug file>/<debug id>``).
- Every symbol upload (any path) is recorded (``SymbolUploads.record``); each process
  instance reads the new records every few seconds (``UploadWatcher``) and forgets what it
  knew of those files (a cached "the bucket has no such file", an older copy on its disk),
  so the next crash uses them.
- The upload then queues for reprocessing the crashes of the last
  ``symbols_reprocess_days`` days that missed the uploaded modules (each crash once, at
  most ``symbols_reprocess_max`` per upload, newest first): ``SymbolsArrived``.
- The missing-symbols report (``SymbolUploads.missing_symbols``: ``/api/MissingSymbols/``,
  ``crashflow symbols missing``) lists, per day and product, the modules crashes needed and
  no upload has brought since: what a build team needs to find its forgotten uploads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from crashflow.messages import ProcessingRequest
from crashflow.settings import Settings
from crashflow.stores.errors import QueryFailed, StoreUnavailable
from crashflow.stores.interfaces import CrashQueue, SymbolUploads
from crashflow.stores.layout import module_id_of_symbol_key, modules_missing_symbols

log = logging.getLogger(__name__)


def missing_modules(processed: dict) -> dict[str, dict] | None:
    """The report row's ``missing_modules``: module id -> ``debug_file``, ``debug_id``,
    ``code_file``, ``code_id`` of every module the stackwalk had no symbols for; None when
    there are none."""
    found = {}
    for key, module in modules_missing_symbols(processed.get("json_dump") or {}):
        module_id = module_id_of_symbol_key(key)
        debug_file, debug_id = module_id.split("/")
        found[module_id] = {
            "debug_file": debug_file,
            "debug_id": debug_id,
            "code_file": str(module.get("code_file") or module.get("filename") or ""),
            "code_id": str(module.get("code_id") or ""),
        }
    return found or None


class UploadWatcher:
    """Tells a process instance (``forget``: a symbol key) about the files uploaded since it
    last looked; looks at most every ``interval`` seconds (one small query), and never lets
    a failure stop processing: the instance then just keeps what it knew, its cached
    "missing" entries until their TTL."""

    def __init__(self, uploads: SymbolUploads, forget: Callable[[str], None], interval: float = 2.0,
                 clock: Callable[[], float] = time.monotonic):
        self.uploads = uploads
        self.forget = forget
        self.interval = interval
        self.clock = clock
        self._last_id: int | None = None
        self._next = 0.0
        self._failing = False
        self._lock = threading.Lock()

    def poll(self) -> int:
        """Forget what was uploaded since the last poll, when one is due; how many keys."""
        with self._lock:
            if self.clock() < self._next:
                return 0
            self._next = self.clock() + self.interval
            try:
                self._last_id, keys = self.uploads.recorded_since(self._last_id)
            except (StoreUnavailable, QueryFailed) as error:
                if not self._failing:
                    log.warning("cannot read the symbol uploads (%s); symbols uploaded meanwhile may be "
                                "taken for missing until their cache entries expire", error)
                self._failing = True
                return 0
            if self._failing:
                log.info("reading the symbol uploads again")
            self._failing = False
        for key in keys:
            self.forget(key)
        return len(keys)


class ReprocessingNotQueued(Exception):
    """The reprocessing queue did not take every crash an upload should reprocess."""


class SymbolsArrived:
    """What an upload sets off once its files are stored (collect, any upload path): the
    record every process instance reads, then the reprocessing of the crashes that missed
    the files' modules."""

    QUEUE = "reprocessing"
    BATCH = 10  # SQS's most messages per send

    def __init__(self, settings: Settings, uploads: SymbolUploads, queues: CrashQueue):
        self.days = settings.symbols_reprocess_days
        self.limit = settings.symbols_reprocess_max
        self.uploads = uploads
        self.queues = queues

    def __call__(self, symbol_keys: list[str]) -> list[str]:
        """Record ``symbol_keys`` and queue the crashes that need them; the crash ids queued.
        StoreUnavailable or ReprocessingNotQueued when either failed (an upload sent again
        does both again)."""
        if not symbol_keys:
            return []
        self.uploads.record(symbol_keys)
        module_ids = sorted({module_id_of_symbol_key(key) for key in symbol_keys})
        crash_ids = self.uploads.crashes_missing(module_ids, self.days, self.limit) if self.days else []
        messages = [ProcessingRequest.for_origin(crash_id, "symbol_upload").to_message() for crash_id in crash_ids]
        refused = []
        for start in range(0, len(messages), self.BATCH):
            refused += self.queues.publish_batch(self.QUEUE, messages[start : start + self.BATCH])
        if refused:
            raise ReprocessingNotQueued(f"the reprocessing queue refused {len(refused)} of {len(crash_ids)} crashes")
        if crash_ids:
            log.info("symbols for %s: %d crash(es) queued for reprocessing", ", ".join(module_ids[:5]), len(crash_ids))
        return crash_ids
