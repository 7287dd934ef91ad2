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

    def receive(self, kind: str, max_messages: int = 10, wait_seconds: int = 0,
                visibility_seconds: int | None = None) -> list[QueueMessage]:
        """Messages hidden from other receivers for ``visibility_seconds`` (default: the
        queue's visibility timeout)."""

    def set_visibility(self, messages: list[QueueMessage], seconds: int) -> list[QueueMessage]:
        """Make received messages of one queue visible again in ``seconds``; the messages
        that could not be changed (deleted, or no longer in flight)."""

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

    def size(self, key: str) -> int | None:
        """The file's size in bytes, None when there is no such file."""

    def open(self, key: str) -> SymbolFileReader | None:
        """The file to read as a stream (symbol files can be hundreds of megabytes), None
        when there is no such file."""

    def download_url(self, key: str, seconds: int) -> str:
        """A URL anyone holding it may GET the file from for ``seconds`` (presigned)."""

    def sha256(self, key: str) -> str | None:
        """The file's SHA-256 (hex), None when there is no such file."""

    def read_head(self, key: str, size: int) -> bytes | None:
        """The first ``size`` bytes, None when there is no such file."""

    def copy(self, source: str, target: str) -> None: ...

    def delete(self, key: str) -> None: ...

    def staged_before(self, cutoff: dt.datetime) -> list[str]:
        """The staged files last written before ``cutoff``."""

    def is_healthy(self) -> bool: ...


@dataclass
class SymbolFileReader:
    """A symbol file being read: its size, and its bytes chunk by chunk (``chunks`` raises
    ``StoreUnavailable`` when the store fails part-way)."""

    size: int
    chunks: Iterator[bytes]


@dataclass(frozen=True)
class MissingSymbol:
    """A module crashes needed and had no symbols for: one line of the missing-symbols report."""

    debug_file: str
    debug_id: str
    code_file: str
    code_id: str
    crash_count: int


class SymbolUploads(Protocol):
    """What symbols that arrive late need of PostgreSQL
    (``crashflow.stores.postgres.SymbolUploadRecords``): a record of every symbol file
    stored (``symbol_uploads``), and the modules each crash had no symbols for
    (``reports.missing_modules``, written with the crash's report row). Modules are named
    by module id (``layout.module_id``)."""

    def record(self, symbol_keys: list[str]) -> None:
        """Record that the files under ``symbol_keys`` were just stored."""

    def recorded_since(self, last_id: int | None) -> tuple[int, list[str]]:
        """The latest record's id, and the symbol keys recorded after record ``last_id``
        (None: none, only the id to start from), oldest first."""

    def crashes_missing(self, module_ids: list[str], days: int, limit: int) -> list[str]:
        """The ids of crashes submitted in the last ``days`` days whose stackwalk missed any
        of ``module_ids``: newest first, each once, at most ``limit``."""

    def missing_symbols(self, day: dt.date, product: str | None = None) -> list[MissingSymbol]:
        """The modules the crashes submitted on ``day`` (UTC; of ``product``) had no
        symbols for and that no upload has brought since the crash was processed, most
        crashes first."""
