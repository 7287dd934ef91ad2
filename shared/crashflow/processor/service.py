"""Processing one crash id: load it from S3, run a rule set, store the result in Postgres
and HBase.

Every write is keyed by the crash id, so processing a crash again (a redelivered message,
a reprocessing request) replaces its report row and processed record; the earlier runs
are kept in ``processor_history``. Store failures propagate (the symbols bucket's too):
the caller answers non-2xx and the queue redelivers.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from crashflow.crashids import normalize_crash_id
from crashflow.fields import FieldDefinitions
from crashflow.processor.pipeline import CrashContext, Pipeline
from crashflow.processor.rules import default_rules, regenerate_signature_rules
from crashflow.processor.stackwalker import Stackwalker
from crashflow.processor.symbols import MissingSymbols, SymbolCache, SymbolFetcher
from crashflow.reports import report_row
from crashflow.settings import Settings
from crashflow.stores.hbase import CrashTable
from crashflow.stores.postgres import Database
from crashflow.stores.s3 import CrashNotFound, CrashStorage, S3Objects

log = logging.getLogger(__name__)

RULESETS = ("default", "regenerate_signature")
# What processor_history keeps of each earlier run.
HISTORY_FIELDS = ("started_datetime", "completed_datetime", "signature", "processor_notes", "ruleset")


class InvalidMessage(ValueError):
    """A queue message that can never be processed (not a crash id, unknown rule set)."""


@dataclass
class Outcome:
    crash_id: str
    status: str  # "processed" or "missing"
    processed: dict | None = None


def parse_message(body: str) -> tuple[str, str]:
    """A queue message is ``<crash id>`` or ``<crash id>:<ruleset>``."""
    crash_id, _, ruleset = body.strip().partition(":")
    ruleset = ruleset or "default"
    if ruleset not in RULESETS:
        raise InvalidMessage(f"unknown rule set {ruleset[:40]!r}; known: {', '.join(RULESETS)}")
    try:
        return normalize_crash_id(crash_id), ruleset
    except ValueError as error:
        raise InvalidMessage(str(error)) from None


def history_entry(processed: dict) -> dict:
    return {name: processed.get(name) for name in HISTORY_FIELDS}


class Processor:
    """Processes crashes; one per process, shared by request threads."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.storage = CrashStorage(settings)
        # As many store connections as functions-framework has request threads (4 per core).
        connections = 4 * (os.cpu_count() or 1)
        self.crash_table = CrashTable(settings, pool_size=connections)
        self.database = Database(settings, size=connections)
        self.symbol_cache = SymbolCache(
            settings.symbols_cache_dir / settings.symbols_bucket, settings.symbols_cache_max_bytes
        )
        self.symbol_fetcher = SymbolFetcher(
            self.symbol_cache.directory,
            S3Objects(settings, settings.symbols_bucket),
            MissingSymbols(settings.symbols_missing_ttl),
        )
        self.stackwalker = Stackwalker(
            settings.stackwalker,
            self.symbol_cache.directory,
            timeout=settings.stackwalker_timeout,
            fetcher=self.symbol_fetcher,
            concurrency=settings.stackwalker_concurrency or None,
        )
        # Loads of one crash run side by side: each is a network round trip.
        self.loader = ThreadPoolExecutor(8, thread_name_prefix="load")
        self.pipelines = {
            "default": Pipeline(default_rules(self.stackwalker, FieldDefinitions.from_settings(settings).raw_crash)),
            "regenerate_signature": Pipeline(regenerate_signature_rules()),
        }

    def process(self, crash_id: str, ruleset: str = "default", fresh_symbols: bool = False) -> Outcome:
        """Process one crash. ``fresh_symbols``: ask the bucket even for symbols it lacked
        lately (reprocessing after a symbol upload)."""
        try:
            crash, raw_crash, history, raw_in_hbase = self._context(crash_id, ruleset)
        except CrashNotFound:
            log.error("crash %s is not in storage; message dropped", crash_id)
            return Outcome(crash_id, "missing")
        crash.fresh_symbols = fresh_symbols
        crash.processed["ruleset"] = crash.ruleset
        processed = self.pipelines[crash.ruleset].run(crash).processed
        if history:
            processed["processor_history"] = history
        previous_signature = history[-1]["signature"] if history else None

        # Postgres first: the HBase processed flag is what says "done" (recover, query).
        self.database.upsert_report(report_row(processed))
        self.crash_table.put_processed_crash(
            crash_id, None if raw_in_hbase else raw_crash, processed,
            previous_signature=previous_signature, history=[*history, history_entry(processed)],
        )
        self.symbol_cache.prune_if_due()
        log.info("processed %s (%s): %s", crash_id, crash.ruleset, processed.get("signature"))
        return Outcome(crash_id, "processed", processed)

    def _context(self, crash_id: str, ruleset: str) -> tuple[CrashContext, dict, list[dict], bool]:
        """The crash to run ``ruleset`` on, its raw crash as stored, its processing history,
        and whether HBase has the raw crash already. CrashNotFound when the crash is not in S3.

        The raw crash and the history come from the crash's HBase row in one read (collect
        wrote the annotations there); S3's raw crash is read only when the row has none.
        The dumps are read once the raw crash names them (a crash may have no main dump)."""
        regenerate = ruleset == "regenerate_signature"
        raw_crash, history = self.crash_table.raw_crash_and_history(crash_id)
        in_s3 = raw_crash is None
        if in_s3:
            raw_crash = self.storage.load_raw_crash(crash_id)
        if regenerate:
            stored = self.crash_table.get_processed_crash(crash_id)
            if stored and stored.get("json_dump"):
                stored.pop("processor_history", None)
                crash = CrashContext(crash_id, dict(raw_crash), {}, processed=stored, ruleset=ruleset)
                crash.notes.append("signature regenerated from the stored stackwalker output")
                return crash, raw_crash, history, not in_s3
            log.warning("%s has no stored stackwalker output; processing it in full", crash_id)
        dumps, notes = self._load_dumps(crash_id, raw_crash)
        if notes and not in_s3:
            self.storage.load_raw_crash(crash_id)  # dumps gone: is the whole crash gone?
        return CrashContext(crash_id, dict(raw_crash), dumps, notes=notes), raw_crash, history, not in_s3

    def _load_dumps(self, crash_id: str, raw_crash: dict) -> tuple[dict[str, bytes], list[str]]:
        """The dumps, and notes on those that are gone. The dump names come from the
        collector's checksums, or from ``dump_names`` for raw crashes without them."""
        checksums = (raw_crash.get("metadata") or {}).get("dump_checksums")
        names = list(checksums) if isinstance(checksums, dict) else self._dump_names(crash_id)
        loads = {name: self.loader.submit(self.storage.load_dump, crash_id, name) for name in names}
        dumps, notes = {}, []
        for name, load in loads.items():
            try:
                dumps[name] = load.result()
            except CrashNotFound:  # deleted (retention, by hand): process what is left
                notes.append(f"dump {name} is not in storage")
        return dumps, notes

    def _dump_names(self, crash_id: str) -> list[str]:
        try:
            return self.storage.load_dump_names(crash_id)
        except CrashNotFound:
            return []

    def health(self) -> dict[str, bool]:
        return {
            "s3": self.storage.is_healthy(),
            "hbase": self.crash_table.is_healthy(),
            "postgres": self.database.is_healthy(),
        }
