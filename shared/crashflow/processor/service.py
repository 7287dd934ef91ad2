"""Processing one crash id: load it (the crash repository), run a rule set, store the
result in Postgres and HBase.

Every write is keyed by the crash id, so processing a crash again (a reprocessing request)
replaces its report row and processed record; the earlier runs are kept in
``processor_history``. A crash id delivered again once its crash is processed is dropped;
one delivered again while its crash is being processed waits for that run and is dropped
then (``CrashLocks``). Store failures propagate (the symbols bucket's too):
the caller answers non-2xx and the queue redelivers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from crashflow.fields import FieldDefinitions
from crashflow.metrics import PROCESS_LAG_SECONDS
from crashflow.processor.pipeline import CrashContext, Pipeline
from crashflow.processor.rules import default_rules, regenerate_signature_rules
from crashflow.processor.stackwalker import Stackwalker
from crashflow.processor.symbols import MissingSymbols, SymbolCache, SymbolFetcher
from crashflow.reports import report_row
from crashflow.settings import Settings
from crashflow.stores.crashes import StoredCrash
from crashflow.stores.errors import CrashNotFound
from crashflow.stores.factory import Stores

log = logging.getLogger(__name__)

# What processor_history keeps of each earlier run.
HISTORY_FIELDS = ("started_datetime", "completed_datetime", "signature", "processor_notes", "ruleset")


@dataclass
class Outcome:
    crash_id: str
    status: str  # "processed", "already_processed" or "missing"
    processed: dict | None = None


def observe_lag(raw_crash: dict) -> None:
    """Submit-to-processed time of a crash's first processing (the collector's timestamp)."""
    try:
        submitted = dt.datetime.fromisoformat(str(raw_crash.get("submitted_timestamp")))
    except ValueError:
        return
    if submitted.tzinfo is None:
        submitted = submitted.replace(tzinfo=dt.timezone.utc)
    PROCESS_LAG_SECONDS.observe(max(0.0, (dt.datetime.now(dt.timezone.utc) - submitted).total_seconds()))


def history_entry(processed: dict) -> dict:
    return {name: processed.get(name) for name in HISTORY_FIELDS}


def history_line(run: dict) -> str:
    """An earlier run as one of Socorro's ``processor_history`` strings."""
    line = f"{run.get('completed_datetime') or ''} {run.get('ruleset') or 'default'}: {run.get('signature') or ''}"
    return line + (f"; {run['processor_notes']}" if run.get("processor_notes") else "")


class CrashLocks:
    """A lock per crash id while some thread of this process handles it. The same crash id
    can be delivered twice at once (a publish the collector retried after an answer it
    never got puts two messages in the queue, and the relay may hand both to process
    together): the second delivery waits here for the first one's end, and then finds the
    crash processed, instead of walking and writing it a second time beside it."""

    def __init__(self):
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}  # crash id -> lock, holders and waiters

    @contextlib.contextmanager
    def holding(self, crash_id: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(crash_id) or (threading.Lock(), 0)
            self._locks[crash_id] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                users = self._locks[crash_id][1] - 1
                if users:
                    self._locks[crash_id] = (lock, users)
                else:
                    del self._locks[crash_id]


class Processor:
    """Processes crashes; one per process, shared by request threads."""

    def __init__(self, settings: Settings, stores: Stores | None = None):
        self.settings = settings
        self.stores = stores or Stores.from_settings(settings, "processor")
        self.crashes = self.stores.crashes
        self.symbol_cache = SymbolCache(
            settings.symbols_cache_dir / settings.symbols_bucket, settings.symbols_cache_max_bytes
        )
        self.symbol_fetcher = SymbolFetcher(
            self.symbol_cache.directory,
            self.stores.symbols,
            MissingSymbols(settings.symbols_missing_ttl),
            uploads=self.stores.symbol_uploads,
            poll_seconds=settings.symbols_upload_poll_seconds,
        )
        self.stackwalker = Stackwalker(
            settings.stackwalker,
            self.symbol_cache.directory,
            timeout=settings.stackwalker_timeout,
            fetcher=self.symbol_fetcher,
            concurrency=settings.stackwalker_concurrency or None,
        )
        self.pipelines = {
            "default": Pipeline(default_rules(self.stackwalker, FieldDefinitions.from_settings(settings).raw_crash)),
            "regenerate_signature": Pipeline(regenerate_signature_rules()),
        }
        self.locks = CrashLocks()

    def process(self, crash_id: str, ruleset: str = "default", fresh_symbols: bool = False) -> Outcome:
        """Process one crash. ``fresh_symbols``: ask the bucket even for symbols it lacked
        lately (reprocessing after a symbol upload, and processing on demand).

        A crash id that comes again from the standard or priority queue once its crash is
        processed (a redelivery after a fault, a queue publish retried after an answer that
        was lost, `crashflow recover` racing the queue) is not processed a second time:
        only reprocessing (the reprocessing queue, on-demand processing) does that. Runs
        for one crash id in this process take turns (``CrashLocks``)."""
        with self.locks.holding(crash_id):
            return self._process(crash_id, ruleset, fresh_symbols)

    def _process(self, crash_id: str, ruleset: str, fresh_symbols: bool) -> Outcome:
        try:
            stored = self.crashes.stored_crash(crash_id)
            if not fresh_symbols and ruleset == "default" and stored.history:
                log.info("%s is processed already; message dropped", crash_id)
                return Outcome(crash_id, "already_processed")
            crash = self._context(stored, ruleset)
        except CrashNotFound:
            log.error("crash %s is not in storage; message dropped", crash_id)
            return Outcome(crash_id, "missing")
        crash.fresh_symbols = fresh_symbols
        crash.processed["ruleset"] = crash.ruleset
        processed = self.pipelines[crash.ruleset].run(crash).processed
        if stored.history:
            # Socorro's strings; the runs as records stay in the crash's HBase row.
            processed["processor_history"] = [history_line(run) for run in stored.history]

        # Postgres first: the HBase processed flag is what says "done" (recover, query).
        self.stores.reports.upsert_report(report_row(processed))
        self.crashes.save_processed(stored, processed, history=[*stored.history, history_entry(processed)])
        self.symbol_cache.prune_if_due()
        if not stored.history:
            observe_lag(stored.raw_crash)
        log.info("processed %s (%s): %s", crash_id, crash.ruleset, processed.get("signature"))
        return Outcome(crash_id, "processed", processed)

    def _context(self, stored: StoredCrash, ruleset: str) -> CrashContext:
        """The crash to run ``ruleset`` on: with its dumps, or, to regenerate the signature,
        with its stored stackwalker output. CrashNotFound when the crash is gone."""
        if ruleset == "regenerate_signature":
            processed = self.crashes.processed_crash(stored.crash_id)
            if processed and processed.get("json_dump"):
                processed.pop("processor_history", None)
                crash = CrashContext(stored.crash_id, dict(stored.raw_crash), {}, processed=processed, ruleset=ruleset)
                crash.notes.append("signature regenerated from the stored stackwalker output")
                return crash
            log.warning("%s has no stored stackwalker output; processing it in full", stored.crash_id)
        dumps, notes = self.crashes.dumps(stored)
        return CrashContext(stored.crash_id, dict(stored.raw_crash), dumps, notes=notes)

    def health(self) -> dict[str, bool]:
        return self.stores.health("s3", "hbase", "postgres")
