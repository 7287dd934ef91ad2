"""The crash submission: parse, normalise, throttle, store, queue, answer as Socorro does."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from crashflow.collector.indexer import BackgroundIndexer
from crashflow.collector.payload import Limits, MalformedCrash, PayloadTooLarge, parse_crash_payload
from crashflow.collector.publisher import BatchPublisher, PublishFailed, Republisher
from crashflow.collector.throttler import Throttler, ThrottleResult
from crashflow import metrics
from crashflow.crashids import create_crash_id
from crashflow.logs import crash_context
from crashflow.settings import Settings
from crashflow.stores.errors import StoreUnavailable
from crashflow.stores.factory import Stores

log = logging.getLogger(__name__)

# Old Breakpad and Electron uploaders name the two annotations everything keys on
# differently, first match wins. Electron sends its own name and version as prod/ver
# ("Electron", "28.1.0") and the app's as _productName/_version: the app's pair comes first.
ANNOTATION_ALIASES = {
    "ProductName": ("_productName", "prod", "product"),
    "Version": ("_version", "ver", "version"),
}
# Crashpad appends these to the URL; they fill in what the body lacks.
QUERY_ANNOTATIONS = {"product": "ProductName", "version": "Version", "guid": "guid"}


@dataclass
class SubmitResponse:
    """What the crash reporter is answered."""

    status: int
    body: str
    content_type: str = "text/plain"


def normalize_annotations(annotations: dict[str, str], query: dict[str, str]) -> list[str]:
    """Fill ProductName / Version from the body's other names for them, then anything
    still missing from the query string; return notes. The originals are kept."""
    notes = []
    for target, aliases in ANNOTATION_ALIASES.items():
        if annotations.get(target):
            continue
        for alias in aliases:
            if annotations.get(alias):
                annotations[target] = annotations[alias]
                notes.append(f"{target} from {alias}")
                break
    for key, target in QUERY_ANNOTATIONS.items():
        if query.get(key) and not annotations.get(target):
            annotations[target] = query[key]
            notes.append(f"{target} from query string")
    return notes


class Collector:
    """Accepts crash uploads; one per process, shared by request threads."""

    def __init__(self, settings: Settings, stores: Stores | None = None, throttler: Throttler | None = None):
        self.settings = settings
        self.stores = stores or Stores.from_settings(settings, "collector")
        # The queue's own retries (stores.sqs: transient failures only) are the only ones.
        self.publisher = BatchPublisher(self._send_batch)
        self.republisher = Republisher(self._send_batch)
        self.indexer = BackgroundIndexer(self._write_rows, linger=settings.collector_index_linger_seconds)
        self.throttler = throttler or Throttler.from_file(settings.throttle_rules)
        self.limits = Limits(
            max_request_bytes=settings.max_request_bytes,
            max_decompressed_bytes=settings.max_decompressed_bytes,
            max_parts=settings.max_parts,
            max_annotation_bytes=settings.max_annotation_bytes,
        )

    def submit(
        self,
        headers: dict,
        body: Iterable[bytes],
        query: dict[str, str] | None = None,
        user_agent: str = "",
    ) -> SubmitResponse:
        try:
            payload = parse_crash_payload(headers, body, self.limits)
        except MalformedCrash as error:
            metrics.COLLECT_CRASHES.labels("malformed").inc()
            metrics.COLLECT_MALFORMED.labels(error.reason).inc()
            return SubmitResponse(400, f"Discarded=malformed_{error.reason}")
        except PayloadTooLarge as error:
            log.info("refused a crash upload: %s", error)
            metrics.COLLECT_CRASHES.labels("too_large").inc()
            return SubmitResponse(413, "Discarded=too_large")
        metrics.COLLECT_PAYLOAD_BYTES.observe(payload.size)

        annotations = payload.annotations
        notes = payload.notes + normalize_annotations(annotations, query or {})
        for name in self.settings.drop_annotations:
            if annotations.pop(name, None) is not None:
                notes.append(f"dropped annotation {name}")

        result, rule = self.throttler.throttle(annotations)
        metrics.COLLECT_THROTTLE.labels(rule, result.name).inc()
        if result is ThrottleResult.REJECT:
            metrics.COLLECT_CRASHES.labels("throttled").inc()
            return SubmitResponse(200, f"Discarded=rule_{rule}")

        now = dt.datetime.now(dt.timezone.utc)
        crash_id = create_crash_id(now, result)
        if result is ThrottleResult.FAKEACCEPT:
            metrics.COLLECT_CRASHES.labels("throttled").inc()
            return SubmitResponse(200, f"CrashID=bp-{crash_id}\n")

        raw_crash = dict(annotations)
        raw_crash.update(
            submitted_timestamp=now.isoformat(),
            uuid=crash_id,
            version=2,
            metadata={
                "payload": payload.kind,
                "payload_compressed": "1" if payload.compressed else "0",
                "payload_size": payload.size,
                "collector_notes": notes,
                "user_agent": user_agent,
                "throttle_rule": rule,
                "throttle_result": result.name,
                "dump_checksums": {name: hashlib.sha256(data).hexdigest() for name, data in payload.dumps.items()},
            },
        )
        with crash_context(crash_id):
            return self._store(crash_id, raw_crash, payload.dumps, result, rule)

    def _store(self, crash_id: str, raw_crash: dict, dumps: dict[str, bytes], result: ThrottleResult,
               rule: str) -> SubmitResponse:
        """Store and queue an accepted crash; the answer."""
        try:
            self.stores.raw_crashes.save_raw_crash(crash_id, raw_crash, dumps)
        except StoreUnavailable:
            log.exception("could not store crash %s", crash_id)
            metrics.COLLECT_STORE_ERRORS.labels("s3").inc()
            metrics.COLLECT_CRASHES.labels("store_failed").inc()
            return SubmitResponse(503, "Discarded=storage_unavailable")

        self._index_raw_crash(crash_id, raw_crash)
        if result is ThrottleResult.ACCEPT:
            self._publish(crash_id)
        metrics.COLLECT_CRASHES.labels("accepted").inc()
        log.info("accepted %s (%s, rule %s)", crash_id, result.name, rule)
        return SubmitResponse(200, f"CrashID=bp-{crash_id}\n")

    def _write_rows(self, rows: list[tuple[str, dict]]) -> None:
        try:
            self.stores.records.put_raw_crashes(rows)
        except Exception:
            metrics.COLLECT_STORE_ERRORS.labels("hbase").inc()
            raise

    def _index_raw_crash(self, crash_id: str, raw_crash: dict) -> None:
        # S3 is the durable landing; the HBase row is a convenience that process rewrites,
        # written in the background (collector/indexer.py).
        self.indexer.add(crash_id, raw_crash)

    def _publish(self, crash_id: str) -> None:
        try:
            self.publisher.publish(crash_id)
        except PublishFailed:
            # The crash is stored: it is published again in the background until the queue
            # takes it (and were this process to stop first, `crashflow recover` requeues
            # raw crashes that have no processed record).
            metrics.COLLECT_STORE_ERRORS.labels("sqs").inc()
            if self.republisher.add(crash_id):
                log.warning("could not queue %s; queuing it again in the background", crash_id, exc_info=True)
            else:
                log.exception("could not queue %s; left for recovery", crash_id)

    def _send_batch(self, crash_ids: list[str]) -> list[str]:
        return self.stores.queues.publish_batch("standard", crash_ids)

    def health(self) -> tuple[bool, dict[str, str]]:
        """Whether crashes can be collected, and each dependency's state. HBase is only
        reported: crashes are accepted without it (process writes the row later)."""
        required = self.stores.health("s3", "sqs")
        checks = {name: "ok" if up else "down" for name, up in required.items()}
        checks["hbase"] = "ok" if self.stores.records.is_healthy() else "down (crashes are still accepted)"
        return all(required.values()), checks
