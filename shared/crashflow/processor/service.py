"""Processing one crash id: load from S3, run the pipeline, store in HBase, Postgres and S3."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from crashflow.crashids import normalize_crash_id
from crashflow.processor.pipeline import CrashContext, Pipeline
from crashflow.processor.rules import default_rules
from crashflow.processor.stackwalker import Stackwalker
from crashflow.processor.symbols import SymbolCache, SymbolServer
from crashflow.reports import report_row
from crashflow.settings import Settings
from crashflow.stores.hbase import CrashTable
from crashflow.stores.postgres import Database
from crashflow.stores.s3 import CrashNotFound, CrashStorage

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    crash_id: str
    status: str  # "processed" or "missing"
    processed: dict | None = None


def parse_message(body: str) -> tuple[str, str]:
    """A queue message is ``<crash id>`` or ``<crash id>:<ruleset>``."""
    crash_id, _, ruleset = body.strip().partition(":")
    return normalize_crash_id(crash_id), ruleset or "default"


class Processor:
    """Processes crashes; one per process, shared by request threads."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.storage = CrashStorage(settings)
        self.crash_table = CrashTable(settings)
        self.database = Database(settings)
        self.symbol_server = SymbolServer(settings)
        self.symbol_cache = SymbolCache(
            settings.symbols_cache_dir / settings.symbols_bucket, settings.symbols_cache_max_bytes
        )
        self.stackwalker = Stackwalker(
            settings.stackwalker,
            symbols_url=self.symbol_server.url,
            symbols_cache=self.symbol_cache.directory,
            timeout=settings.stackwalker_timeout,
        )
        self.pipeline = Pipeline(default_rules(self.stackwalker))

    def process(self, crash_id: str, ruleset: str = "default") -> Outcome:
        try:
            raw_crash = self.storage.load_raw_crash(crash_id)
            dumps = self.storage.load_dumps(crash_id)
        except CrashNotFound:
            log.error("crash %s is not in storage; message dropped", crash_id)
            return Outcome(crash_id, "missing")

        crash = self.pipeline.run(CrashContext(crash_id, raw_crash, dumps, ruleset=ruleset))
        processed = crash.processed
        previous = self.crash_table.get_processed_crash(crash_id) or {}
        if previous:
            history = previous.get("processor_history", [])
            history.append({k: previous.get(k) for k in ("completed_datetime", "signature", "processor_notes")})
            processed["processor_history"] = history

        self.database.upsert_report(report_row(processed))
        self.crash_table.put_processed_crash(
            crash_id, raw_crash, processed, previous_signature=previous.get("signature")
        )
        self.symbol_cache.prune_if_due()
        log.info("processed %s: %s", crash_id, processed.get("signature"))
        return Outcome(crash_id, "processed", processed)

    def health(self) -> dict[str, bool]:
        return {
            "s3": self.storage.is_healthy(),
            "hbase": self.crash_table.is_healthy(),
            "postgres": self.database.is_healthy(),
        }
