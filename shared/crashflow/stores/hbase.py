"""Crash records in HBase (Socorro 2.x schema), through the Thrift1 gateway with happybase.

``crash_reports`` holds one row per crash under the salted key of ``layout.hbase_row_key``:
``meta_data:json`` (raw annotations), ``processed_data:json``,
``processed_data:modules`` / ``:addons`` / ``:history`` (small JSON lists, so correlations
and processing need not load the processed crash),
``flags:processed``, ``ids:ooid``, ``timestamps:submitted`` / ``:processed``.
An index table finds crashes by submitted time (16 salted prefixes), for retention.
Crashes of a signature are found in Postgres (``reports``, indexed by date and signature).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator

import happybase
import orjson
from thriftpy2.thrift import TException

from crashflow.settings import Settings
from crashflow.stores import layout
from crashflow.stores.errors import StoreUnavailable
from crashflow.stores.liveness import closed_by_peer

CRASH_REPORTS = "crash_reports"
INDEX_SUBMITTED = "crash_reports_index_submitted_time"

TABLES: dict[str, dict[str, dict]] = {
    CRASH_REPORTS: {
        name: {"max_versions": 1}
        for name in ("flags", "ids", "meta_data", "processed_data", "raw_data", "timestamps")
    },
    INDEX_SUBMITTED: {"ids": {"max_versions": 1}},
}
# Written by earlier versions and read by nothing: dropped by ensure_tables.
OBSOLETE_TABLES = ("crash_reports_index_signature_ooid",)
# What happybase raises when HBase (or its Thrift gateway) cannot answer: thriftpy2's
# transport and application errors, HBase's own IOError (a TException too), socket errors.
HBASE_ERRORS = (TException, socket.error, happybase.NoConnectionsAvailable)


def encode_json(value: dict) -> bytes:
    """``value`` as JSON with sorted keys; orjson (six times faster on a processed crash),
    or the json module for what orjson refuses (integers over 64 bits)."""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(value, sort_keys=True, default=str).encode()


def thrift_socket(connection: happybase.Connection) -> socket.socket | None:
    """The socket under a happybase connection's Thrift transport (None when closed):
    thriftpy2's buffered transport names it, or the TSocket it wraps does."""
    handle = getattr(connection.transport, "sock", None)
    return handle if isinstance(handle, socket.socket) else getattr(handle, "sock", None)


class CrashTable:
    """Reads and writes crash records; safe to share between threads."""

    def __init__(self, settings: Settings, pool_size: int = 4, timeout_ms: int | None = None):
        self._pool_options = dict(
            size=pool_size,
            host=settings.hbase_host,
            port=settings.hbase_thrift_port,
            timeout=timeout_ms or settings.hbase_timeout_ms,
            table_prefix=settings.namespace,
            transport="buffered",
            protocol="binary",
        )
        self._pool: happybase.ConnectionPool | None = None
        self._pool_lock = threading.Lock()

    @property
    def pool(self) -> happybase.ConnectionPool:
        """Built on first use: happybase's pool opens a connection as it is made, and a
        function must start (and answer its health check) while HBase is down."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = happybase.ConnectionPool(**self._pool_options)
            return self._pool

    @contextlib.contextmanager
    def _connection(self) -> Iterator[happybase.Connection]:
        try:
            # The pool sees HBase's own errors first: it replaces a connection that failed.
            with self.pool.connection() as connection:
                if closed_by_peer(thrift_socket(connection)):
                    connection.close()  # the Thrift server went away (restarted) since its last use
                connection.open()  # a no-op when already open; reopens after a reset
                yield connection
        except HBASE_ERRORS as error:
            raise StoreUnavailable("hbase", f"{type(error).__name__}: {error}") from error

    def ensure_tables(self) -> None:
        with self._connection() as connection:
            existing = {name.decode() for name in connection.tables()}
            for name, families in TABLES.items():
                if name not in existing:
                    connection.create_table(name, families)
            for name in OBSOLETE_TABLES:
                if name in existing:
                    connection.delete_table(name, disable=True)

    def is_healthy(self) -> bool:
        try:
            with self._connection() as connection:
                connection.tables()
        except StoreUnavailable:
            return False
        return True

    def _put(self, rows: list[tuple[str, dict, dict[bytes, bytes]]]) -> None:
        """Write each (crash id, raw crash, processed columns) crash row, then the
        submitted-time index rows: one Thrift call per table, however many crashes."""
        with self._connection() as connection:
            with connection.table(CRASH_REPORTS).batch() as crashes:
                for crash_id, raw_crash, processed_columns in rows:
                    crashes.put(layout.hbase_row_key(crash_id), {
                        b"ids:ooid": crash_id.encode(),
                        b"meta_data:json": encode_json(raw_crash),
                        b"timestamps:submitted": str(raw_crash.get("submitted_timestamp", "")).encode(),
                        **processed_columns,
                    })
            # After the crash rows: an index row never points at a row not written yet.
            with connection.table(INDEX_SUBMITTED).batch() as index:
                for crash_id, raw_crash, _ in rows:
                    submitted = str(raw_crash.get("submitted_timestamp", ""))
                    index.put(layout.submitted_index_key(crash_id, submitted), {b"ids:ooid": crash_id.encode()})

    def put_raw_crashes(self, crashes: list[tuple[str, dict]]) -> None:
        """Write the raw annotations and the submitted-time index rows of several
        (crash id, raw crash) at once."""
        self._put([(crash_id, raw_crash, {}) for crash_id, raw_crash in crashes])

    def put_processed_crash(
        self, crash_id: str, raw_crash: dict | None, processed_crash: dict, history: list[dict] | None = None,
    ) -> None:
        """Write the processed crash, its processing ``history`` (this run included) and,
        unless ``raw_crash`` is None (the row has them: collect wrote them), the raw
        annotations and the submitted-time index row."""
        processed_columns = {
            b"processed_data:history": json.dumps(history or [], default=str).encode(),
            b"processed_data:json": encode_json(processed_crash),
            b"processed_data:modules": json.dumps(layout.module_names(processed_crash)).encode(),
            b"processed_data:addons": json.dumps(layout.addon_ids(processed_crash)).encode(),
            b"flags:processed": b"Y",
            b"timestamps:processed": str(processed_crash.get("completed_datetime", "")).encode(),
        }
        if raw_crash is not None:
            self._put([(crash_id, raw_crash, processed_columns)])
            return
        with self._connection() as connection:
            connection.table(CRASH_REPORTS).put(
                layout.hbase_row_key(crash_id), {b"ids:ooid": crash_id.encode(), **processed_columns}
            )

    def _get(self, crash_id: str, column: bytes) -> dict | None:
        with self._connection() as connection:
            row = connection.table(CRASH_REPORTS).row(layout.hbase_row_key(crash_id), columns=[column])
        value = row.get(column)
        return json.loads(value) if value else None

    def raw_crash_and_history(self, crash_id: str) -> tuple[dict | None, list[dict]]:
        """The raw annotations (None when not written yet) and the processing history (the
        runs so far, oldest first), in one read of two small columns: what processing needs
        from the row before it starts."""
        with self._connection() as connection:
            row = connection.table(CRASH_REPORTS).row(
                layout.hbase_row_key(crash_id), columns=[b"meta_data:json", b"processed_data:history"]
            )
        raw, history = row.get(b"meta_data:json"), row.get(b"processed_data:history")
        return (json.loads(raw) if raw else None), (json.loads(history) if history else [])

    def is_processed(self, crash_id: str) -> bool:
        """Whether a processed record exists (reads the flag, not the processed crash)."""
        with self._connection() as connection:
            row = connection.table(CRASH_REPORTS).row(layout.hbase_row_key(crash_id), columns=[b"flags:processed"])
        return row.get(b"flags:processed") == b"Y"

    def get_processed_crash(self, crash_id: str) -> dict | None:
        return self._get(crash_id, b"processed_data:json")

    def get_raw_crash(self, crash_id: str) -> dict | None:
        return self._get(crash_id, b"meta_data:json")

    def delete_crashes_submitted_before(self, before: str, limit: int = 1000) -> int:
        """Delete up to ``limit`` crashes submitted before ``before`` (an ISO date or
        timestamp): their ``crash_reports`` rows and index rows. Returns how many went;
        call again until 0 (retention)."""
        with self._connection() as connection:
            submitted = connection.table(INDEX_SUBMITTED)
            reports = connection.table(CRASH_REPORTS)
            found: list[tuple[bytes, str]] = []
            for salt in layout.SALTS:
                for key, data in submitted.scan(
                    row_start=salt.encode(), row_stop=f"{salt}{before}".encode(), limit=limit - len(found)
                ):
                    found.append((key, data[b"ids:ooid"].decode()))
                if len(found) >= limit:
                    break
            if not found:
                return 0
            with reports.batch() as rows, submitted.batch() as index:
                for index_key, crash_id in found:
                    rows.delete(layout.hbase_row_key(crash_id))
                    index.delete(index_key)
        return len(found)

    def module_lists_submitted(self, day: str) -> Iterator[tuple[str, bytes, bytes]]:
        """``(crash_id, modules, addons)`` of every processed crash submitted on ``day``
        (``YYMMDD``, as in the row key), the lists still JSON-encoded, so a caller can count
        identical lists once and decode each distinct one once: one prefix scan per salt,
        far cheaper than a get per crash when most of a day is wanted (correlations). The
        crash id comes from the row key, so only the two list columns travel."""
        columns = [b"processed_data:modules", b"processed_data:addons"]
        with self._connection() as connection:
            table = connection.table(CRASH_REPORTS)
            for salt in layout.SALTS:
                for key, data in table.scan(row_prefix=layout.day_row_prefix(salt, day), columns=columns,
                                            batch_size=5000):
                    modules = data.get(b"processed_data:modules")
                    if modules is not None:
                        yield layout.crash_id_of_row_key(key), modules, data.get(b"processed_data:addons") or b"[]"
