"""Crash records in HBase (Socorro 2.x schema), through the Thrift1 gateway with happybase.

``crash_reports`` holds one row per crash under the salted key ``<id[0]><YYMMDD><id>``:
``meta_data:json`` (raw annotations), ``processed_data:json`` and ``:signature``,
``processed_data:modules`` / ``:addons`` / ``:history`` (small JSON lists, so correlations
and processing need not load the processed crash),
``flags:processed``, ``ids:ooid``, ``timestamps:submitted`` / ``:processed``.
Two index tables find crashes by submitted time (16 salted prefixes) and by signature.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import threading
from collections.abc import Iterator

import happybase
import orjson

from crashflow.crashids import hbase_row_key
from crashflow.settings import Settings

CRASH_REPORTS = "crash_reports"
INDEX_SUBMITTED = "crash_reports_index_submitted_time"
INDEX_SIGNATURE = "crash_reports_index_signature_ooid"

TABLES: dict[str, dict[str, dict]] = {
    CRASH_REPORTS: {
        name: {"max_versions": 1}
        for name in ("flags", "ids", "meta_data", "processed_data", "raw_data", "timestamps")
    },
    INDEX_SUBMITTED: {"ids": {"max_versions": 1}},
    INDEX_SIGNATURE: {"ids": {"max_versions": 1}},
}

SALTS = "0123456789abcdef"
EMPTY_SIGNATURE = "##empty##"
NULL_SIGNATURE = "##null##"


def signature_key(signature: str | None) -> str:
    if signature is None:
        return NULL_SIGNATURE
    return signature or EMPTY_SIGNATURE


def module_names(processed_crash: dict) -> list[str]:
    """File names of the modules the stackwalker found, in dump order."""
    modules = (processed_crash.get("json_dump") or {}).get("modules") or []
    return [module["filename"] for module in modules if module.get("filename")]


def addon_ids(processed_crash: dict) -> list[str]:
    """Add-on ids of ``addons`` (Socorro's ``id:version`` strings)."""
    return [addon.rpartition(":")[0] or addon for addon in processed_crash.get("addons") or []]


def encode_json(value: dict) -> bytes:
    """``value`` as JSON with sorted keys; orjson (six times faster on a processed crash),
    or the json module for what orjson refuses (integers over 64 bits)."""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(value, sort_keys=True, default=str).encode()


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
        with self.pool.connection() as connection:
            connection.open()  # a no-op when already open; reopens after a reset
            yield connection

    def ensure_tables(self) -> None:
        with self._connection() as connection:
            existing = {name.decode() for name in connection.tables()}
            for name, families in TABLES.items():
                if name not in existing:
                    connection.create_table(name, families)

    def is_healthy(self) -> bool:
        try:
            with self._connection() as connection:
                connection.tables()
        except Exception:
            return False
        return True

    def _put(self, rows: list[tuple[str, dict, dict[bytes, bytes]]]) -> None:
        """Write each (crash id, raw crash, processed columns) crash row, then the
        submitted-time index rows: one Thrift call per table, however many crashes."""
        with self._connection() as connection:
            with connection.table(CRASH_REPORTS).batch() as crashes:
                for crash_id, raw_crash, processed_columns in rows:
                    crashes.put(hbase_row_key(crash_id), {
                        b"ids:ooid": crash_id.encode(),
                        b"meta_data:json": encode_json(raw_crash),
                        b"timestamps:submitted": str(raw_crash.get("submitted_timestamp", "")).encode(),
                        **processed_columns,
                    })
            # After the crash rows: an index row never points at a row not written yet.
            with connection.table(INDEX_SUBMITTED).batch() as index:
                for crash_id, raw_crash, _ in rows:
                    submitted = str(raw_crash.get("submitted_timestamp", ""))
                    index.put(f"{crash_id[0]}{submitted}{crash_id}".encode(), {b"ids:ooid": crash_id.encode()})

    def put_raw_crash(self, crash_id: str, raw_crash: dict) -> None:
        """Write the raw annotations and the submitted-time index row."""
        self.put_raw_crashes([(crash_id, raw_crash)])

    def put_raw_crashes(self, crashes: list[tuple[str, dict]]) -> None:
        """``put_raw_crash`` for several (crash id, raw crash) at once."""
        self._put([(crash_id, raw_crash, {}) for crash_id, raw_crash in crashes])

    def put_processed_crash(
        self, crash_id: str, raw_crash: dict | None, processed_crash: dict, previous_signature: str | None = None,
        history: list[dict] | None = None,
    ) -> None:
        """Write the processed crash, its processing ``history`` (this run included), the
        signature index row and, unless ``raw_crash`` is None (the row has them: collect
        wrote them), the raw annotations and the submitted-time index row. When reprocessing
        changed the signature, the old signature's index row goes."""
        signature = signature_key(processed_crash.get("signature"))
        processed_columns = {
            b"processed_data:history": json.dumps(history or [], default=str).encode(),
            b"processed_data:json": encode_json(processed_crash),
            b"processed_data:signature": signature.encode(),
            b"processed_data:modules": json.dumps(module_names(processed_crash)).encode(),
            b"processed_data:addons": json.dumps(addon_ids(processed_crash)).encode(),
            b"flags:processed": b"Y",
            b"timestamps:processed": str(processed_crash.get("completed_datetime", "")).encode(),
        }
        if raw_crash is not None:
            self._put([(crash_id, raw_crash, processed_columns)])
        with self._connection() as connection:
            if raw_crash is None:
                connection.table(CRASH_REPORTS).put(
                    hbase_row_key(crash_id), {b"ids:ooid": crash_id.encode(), **processed_columns}
                )
            index = connection.table(INDEX_SIGNATURE)
            index.put(f"{signature}{crash_id}".encode(), {b"ids:ooid": crash_id.encode()})
            if previous_signature is not None and signature_key(previous_signature) != signature:
                index.delete(f"{signature_key(previous_signature)}{crash_id}".encode())

    def _get(self, crash_id: str, column: bytes) -> dict | None:
        with self._connection() as connection:
            row = connection.table(CRASH_REPORTS).row(hbase_row_key(crash_id), columns=[column])
        value = row.get(column)
        return json.loads(value) if value else None

    def raw_crash_and_history(self, crash_id: str) -> tuple[dict | None, list[dict]]:
        """The raw annotations (None when not written yet) and the processing history (the
        runs so far, oldest first), in one read of two small columns: what processing needs
        from the row before it starts."""
        with self._connection() as connection:
            row = connection.table(CRASH_REPORTS).row(
                hbase_row_key(crash_id), columns=[b"meta_data:json", b"processed_data:history"]
            )
        raw, history = row.get(b"meta_data:json"), row.get(b"processed_data:history")
        return (json.loads(raw) if raw else None), (json.loads(history) if history else [])

    def is_processed(self, crash_id: str) -> bool:
        """Whether a processed record exists (reads the flag, not the processed crash)."""
        with self._connection() as connection:
            row = connection.table(CRASH_REPORTS).row(hbase_row_key(crash_id), columns=[b"flags:processed"])
        return row.get(b"flags:processed") == b"Y"

    def get_processed_crash(self, crash_id: str) -> dict | None:
        return self._get(crash_id, b"processed_data:json")

    def get_raw_crash(self, crash_id: str) -> dict | None:
        return self._get(crash_id, b"meta_data:json")

    def crash_ids_submitted(self, start: str, stop: str) -> list[str]:
        """Crash ids submitted in [start, stop) (ISO timestamps), in time order:
        one prefix scan per salt, merged."""
        with self._connection() as connection:
            table = connection.table(INDEX_SUBMITTED)
            scans = [
                [
                    (key[1:], data[b"ids:ooid"].decode())
                    for key, data in table.scan(
                        row_start=f"{salt}{start}".encode(), row_stop=f"{salt}{stop}".encode()
                    )
                ]
                for salt in SALTS
            ]
        return [crash_id for _, crash_id in heapq.merge(*scans)]

    def crash_ids_by_signature(self, signature: str, limit: int = 1000) -> list[str]:
        with self._connection() as connection:
            table = connection.table(INDEX_SIGNATURE)
            prefix = signature_key(signature).encode()
            found = []
            for key, data in table.scan(row_prefix=prefix):
                # "Foo" is also a prefix of "FooBar<id>": keep exact signatures only.
                if len(key) == len(prefix) + 36:
                    found.append(data[b"ids:ooid"].decode())
                    if len(found) >= limit:
                        break
            return found

    def delete_crashes_submitted_before(self, before: str, limit: int = 1000) -> int:
        """Delete up to ``limit`` crashes submitted before ``before`` (an ISO date or
        timestamp): their ``crash_reports`` rows and both index rows. Returns how many went;
        call again until 0 (retention)."""
        with self._connection() as connection:
            submitted = connection.table(INDEX_SUBMITTED)
            reports = connection.table(CRASH_REPORTS)
            by_signature = connection.table(INDEX_SIGNATURE)
            found: list[tuple[bytes, str]] = []
            for salt in SALTS:
                for key, data in submitted.scan(
                    row_start=salt.encode(), row_stop=f"{salt}{before}".encode(), limit=limit - len(found)
                ):
                    found.append((key, data[b"ids:ooid"].decode()))
                if len(found) >= limit:
                    break
            if not found:
                return 0
            row_keys = [hbase_row_key(crash_id) for _, crash_id in found]
            signatures = {
                key: data[b"processed_data:signature"]
                for key, data in reports.rows(row_keys, columns=[b"processed_data:signature"])
            }
            with reports.batch() as rows, submitted.batch() as index, by_signature.batch() as signature_index:
                for (index_key, crash_id), row_key in zip(found, row_keys):
                    if row_key in signatures:
                        signature_index.delete(signatures[row_key] + crash_id.encode())
                    rows.delete(row_key)
                    index.delete(index_key)
        return len(found)

    def modules_and_addons_submitted(self, day: str) -> Iterator[tuple[str, list[str], list[str]]]:
        """``(crash_id, modules, addons)`` of every processed crash submitted on ``day``
        (``YYMMDD``, as in the row key): one prefix scan per salt, far cheaper than a get per
        crash when most of a day is wanted (correlations)."""
        for crash_id, modules, addons in self.module_lists_submitted(day):
            yield crash_id, json.loads(modules), json.loads(addons)

    def module_lists_submitted(self, day: str) -> Iterator[tuple[str, bytes, bytes]]:
        """As :meth:`modules_and_addons_submitted`, but the lists still JSON-encoded, so a
        caller can count identical lists once and decode each distinct one once. The crash
        id comes from the row key (salt, YYMMDD, id), so only the two list columns travel."""
        columns = [b"processed_data:modules", b"processed_data:addons"]
        with self._connection() as connection:
            table = connection.table(CRASH_REPORTS)
            for salt in SALTS:
                for key, data in table.scan(row_prefix=f"{salt}{day}".encode(), columns=columns, batch_size=5000):
                    modules = data.get(b"processed_data:modules")
                    if modules is not None:
                        yield key[7:].decode(), modules, data.get(b"processed_data:addons") or b"[]"
