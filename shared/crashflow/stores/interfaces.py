"""What the rest of crashflow needs of its stores, as small interfaces (protocols).

Each is implemented once per backend (``s3``, ``hbase``, ``postgres``, ``sqs``) and once in
memory (``memory``, for unit tests of the logic above the stores). Every method raises
``StoreUnavailable`` when its store fails, and nothing else of the backend's.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Protocol


class RawCrashStorage(Protocol):
    """The crash bucket: raw crashes and their dumps, as the collector received them
    (``crashflow.stores.s3.CrashStorage``). Loads raise ``CrashNotFound``."""

    def save_raw_crash(self, crash_id: str, raw_crash: dict, dumps: dict[str, bytes]) -> None:
        """Store the dumps, then the dump names, then the raw crash: a raw crash that
        exists always has its dumps."""

    def load_raw_crash(self, crash_id: str) -> dict: ...

    def load_dump_names(self, crash_id: str) -> list[str]: ...

    def load_dump(self, crash_id: str, name: str) -> bytes: ...

    def raw_crash_days(self) -> list[dt.date]:
        """The days that have raw crashes stored."""

    def raw_crash_ids(self, day: dt.date, limit: int = 1000, after: str = "") -> list[str]:
        """Up to ``limit`` crash ids submitted on ``day``, in id order, after ``after``."""

    def delete_crashes(self, crash_ids: list[str], raw: bool) -> None:
        """Delete the dumps of ``crash_ids`` and, with ``raw``, their raw crashes."""

    def is_healthy(self) -> bool: ...


class CrashRecords(Protocol):
    """One record per crash: raw annotations, processed crash, processing history, and the
    index by submit time (``crashflow.stores.hbase.CrashTable``)."""

    def put_raw_crashes(self, crashes: list[tuple[str, dict]]) -> None:
        """Write (crash id, raw crash) records and their index rows, several at once."""

    def put_processed_crash(
        self, crash_id: str, raw_crash: dict | None, processed_crash: dict, history: list[dict] | None = None,
    ) -> None:
        """Write the processed crash and its ``history``; with ``raw_crash`` (None: the record
        has it already), the raw annotations and the index row too."""

    def raw_crash_and_history(self, crash_id: str) -> tuple[dict | None, list[dict]]: ...

    def is_processed(self, crash_id: str) -> bool: ...

    def get_processed_crash(self, crash_id: str) -> dict | None: ...

    def get_raw_crash(self, crash_id: str) -> dict | None: ...

    def delete_crashes_submitted_before(self, before: str, limit: int = 1000) -> int:
        """Delete up to ``limit`` records submitted before ``before``; how many went."""

    def module_lists_submitted(self, day: str) -> Iterator[tuple[str, bytes, bytes]]:
        """(crash id, modules JSON, add-ons JSON) of the processed crashes of ``day`` (YYMMDD)."""

    def ensure_tables(self) -> None: ...

    def is_healthy(self) -> bool: ...


class ReportRows(Protocol):
    """PostgreSQL: the ``reports`` rows, the aggregate tables, job runs and tokens
    (``crashflow.stores.postgres.Database``). Search and the jobs speak SQL on a pooled
    connection; a failed statement raises ``QueryFailed``, a lost connection
    ``StoreUnavailable``."""

    def connection(self) -> contextlib.AbstractContextManager: ...

    def transaction(self) -> contextlib.AbstractContextManager: ...

    def upsert_report(self, row: dict) -> None: ...

    def ensure_report_partition(self, day: dt.date) -> str: ...

    def is_healthy(self) -> bool: ...


# The crash queues, in the order they are drained: a user waiting beats the backlog beats
# reprocessing. Failed deliveries end in the dead-letter queue.
QUEUE_KINDS = ("priority", "standard", "reprocessing")
DEAD_LETTER = "dead-letter"


@dataclass(frozen=True)
class QueueMessage:
    kind: str
    body: str
    receipt_handle: str
    receive_count: int
    sent_at: float | None = None  # when the queue took it (Unix time)


class CrashQueue(Protocol):
    """The crash queues, ``priority``, ``standard``, ``reprocessing``, and the dead letters
    (``crashflow.stores.sqs.CrashQueues``)."""

    def publish(self, kind: str, body: str) -> None: ...

    def publish_batch(self, kind: str, bodies: list[str]) -> list[str]:
        """Send up to 10 messages; the bodies the queue did not take."""

    def receive(self, kind: str, max_messages: int = 10, wait_seconds: int = 0) -> list[QueueMessage]: ...

    def delete(self, message: QueueMessage) -> None: ...

    def delete_many(self, messages: list[QueueMessage]) -> None: ...

    def count(self, kind: str) -> int: ...

    def counts(self, kind: str) -> tuple[int, int]:
        """Messages visible (waiting) and in flight (received, not deleted)."""

    def ensure_queues(self) -> None: ...

    def is_healthy(self) -> bool: ...


class SymbolFiles(Protocol):
    """The symbols bucket: Breakpad ``.sym`` files under ``layout.symbol_key``, and
    sym-upload-v2 files waiting under ``layout.staged_symbol_key``
    (``crashflow.stores.s3.SymbolStorage``)."""

    def get(self, key: str) -> bytes | None:
        """The file's bytes, or None when there is none."""

    def save(self, key: str, fileobj: IO[bytes], sha256: str | None = None) -> None:
        """Store ``fileobj`` (streamed: symbol files can be large), with its SHA-256 if known."""

    def exists(self, key: str) -> bool: ...

    def sha256(self, key: str) -> str | None:
        """The file's SHA-256 (hex), None when there is no such file."""

    def read_head(self, key: str, size: int) -> bytes | None:
        """The first ``size`` bytes, None when there is no such file."""

    def copy(self, source: str, target: str) -> None: ...

    def delete(self, key: str) -> None: ...

    def staged_before(self, cutoff: dt.datetime) -> list[str]:
        """The staged files last written before ``cutoff``."""

    def is_healthy(self) -> bool: ...
