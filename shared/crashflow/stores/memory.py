"""The store interfaces kept in memory, for unit tests of the logic above the stores.

They keep what the real stores keep, under the same keys (``layout``), and answer as they
do (``CrashNotFound``, refused bodies, receive counts); ``fail`` makes every call raise
``StoreUnavailable`` until cleared, as a store outage would. Integration tests use the real
HBase, Postgres, S3 and SQS.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
import json
import threading
from collections.abc import Iterator
from typing import IO

from crashflow.crashids import date_from_crash_id
from crashflow.stores import layout
from crashflow.stores.errors import CrashNotFound, StoreUnavailable
from crashflow.stores.interfaces import MissingSymbol, QueueMessage, SymbolFileReader


class _Store:
    name = "memory"

    def __init__(self):
        self.fail = False
        self.lock = threading.Lock()

    def _check(self) -> None:
        if self.fail:
            raise StoreUnavailable(self.name, "down (in-memory store told to fail)")

    def is_healthy(self) -> bool:
        return not self.fail


class MemoryObjects(_Store):
    """Whole objects by key, as a bucket holds them."""

    name = "s3"

    def __init__(self):
        super().__init__()
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, body: bytes) -> None:
        self._check()
        with self.lock:
            self.objects[key] = bytes(body)

    def get(self, key: str) -> bytes | None:
        self._check()
        return self.objects.get(key)


class MemoryRawCrashStorage(MemoryObjects):
    def _load(self, key: str) -> bytes:
        data = self.get(key)
        if data is None:
            raise CrashNotFound(key)
        return data

    def save_raw_crash(self, crash_id: str, raw_crash: dict, dumps: dict[str, bytes]) -> None:
        for name, data in dumps.items():
            self.put(layout.dump_key(crash_id, name), data)
        self.put(layout.dump_names_key(crash_id), json.dumps(sorted(dumps)).encode())
        self.put(layout.raw_crash_key(crash_id), json.dumps(raw_crash, sort_keys=True).encode())

    def load_raw_crash(self, crash_id: str) -> dict:
        return json.loads(self._load(layout.raw_crash_key(crash_id)))

    def load_dump_names(self, crash_id: str) -> list[str]:
        return json.loads(self._load(layout.dump_names_key(crash_id)))

    def load_dump(self, crash_id: str, name: str) -> bytes:
        return self._load(layout.dump_key(crash_id, name))

    def raw_crash_days(self) -> list[dt.date]:
        self._check()
        keys = [key for key in self.objects if key.startswith(layout.RAW_CRASH_PREFIX)]
        return sorted({date_from_crash_id(layout.crash_id_of_key(key)) for key in keys})

    def raw_crash_ids(self, day: dt.date, limit: int = 1000, after: str = "") -> list[str]:
        self._check()
        prefix = layout.raw_crash_day_prefix(day)
        ids = sorted(layout.crash_id_of_key(key) for key in self.objects if key.startswith(prefix))
        return [crash_id for crash_id in ids if crash_id > after][:limit]

    def delete_crashes(self, crash_ids: list[str], raw: bool) -> None:
        self._check()
        for crash_id in crash_ids:
            names = json.loads(self.objects.get(layout.dump_names_key(crash_id), b"[]"))
            keys = [layout.dump_key(crash_id, name) for name in names] + [layout.dump_names_key(crash_id)]
            if raw:
                keys.append(layout.raw_crash_key(crash_id))
            with self.lock:
                for key in keys:
                    self.objects.pop(key, None)


class MemorySymbolFiles(MemoryObjects):
    def __init__(self, clock=lambda: dt.datetime.now(dt.timezone.utc)):
        super().__init__()
        self.clock = clock
        self.written: dict[str, dt.datetime] = {}

    def save(self, key: str, fileobj: IO[bytes], sha256: str | None = None) -> None:
        self.put(key, fileobj.read())
        self.written[key] = self.clock()

    def exists(self, key: str) -> bool:
        return self.get(key) is not None

    def size(self, key: str) -> int | None:
        data = self.get(key)
        return None if data is None else len(data)

    def open(self, key: str) -> SymbolFileReader | None:
        data = self.get(key)
        return None if data is None else SymbolFileReader(len(data), iter([data]))

    def download_url(self, key: str, seconds: int) -> str:
        self._check()
        return f"memory://symbols/{key}?expires-in={seconds}"

    def sha256(self, key: str) -> str | None:
        data = self.get(key)
        return None if data is None else hashlib.sha256(data).hexdigest()

    def read_head(self, key: str, size: int) -> bytes | None:
        data = self.get(key)
        return None if data is None else data[:size]

    def copy(self, source: str, target: str) -> None:
        self.save(target, io.BytesIO(self.objects[source]))

    def delete(self, key: str) -> None:
        self._check()
        with self.lock:
            self.objects.pop(key, None)

    def staged_before(self, cutoff: dt.datetime) -> list[str]:
        self._check()
        return [key for key in self.objects
                if key.startswith(layout.SYMBOL_STAGING_PREFIX) and self.written[key] < cutoff]


class MemoryCrashRecords(_Store):
    """Records by crash id, each a dict of what the HBase row's columns hold."""

    name = "hbase"

    def __init__(self):
        super().__init__()
        self.rows: dict[str, dict] = {}

    def _row(self, crash_id: str) -> dict:
        return self.rows.setdefault(crash_id, {})

    def put_raw_crashes(self, crashes: list[tuple[str, dict]]) -> None:
        self._check()
        with self.lock:
            for crash_id, raw_crash in crashes:
                self._row(crash_id)["raw"] = json.loads(json.dumps(raw_crash, default=str))

    def put_processed_crash(
        self, crash_id: str, raw_crash: dict | None, processed_crash: dict, history: list[dict] | None = None,
    ) -> None:
        self._check()
        if raw_crash is not None:
            self.put_raw_crashes([(crash_id, raw_crash)])
        with self.lock:
            row = self._row(crash_id)
            row["processed"] = json.loads(json.dumps(processed_crash, default=str))
            row["history"] = json.loads(json.dumps(history or [], default=str))

    def raw_crash_and_history(self, crash_id: str) -> tuple[dict | None, list[dict]]:
        self._check()
        row = self.rows.get(crash_id, {})
        return row.get("raw"), list(row.get("history", []))

    def is_processed(self, crash_id: str) -> bool:
        self._check()
        return "processed" in self.rows.get(crash_id, {})

    def get_processed_crash(self, crash_id: str) -> dict | None:
        self._check()
        return self.rows.get(crash_id, {}).get("processed")

    def get_raw_crash(self, crash_id: str) -> dict | None:
        self._check()
        return self.rows.get(crash_id, {}).get("raw")

    def delete_crashes_submitted_before(self, before: str, limit: int = 1000) -> int:
        self._check()
        with self.lock:
            old = [crash_id for crash_id, row in self.rows.items()
                   if str((row.get("raw") or {}).get("submitted_timestamp", "")) < before][:limit]
            for crash_id in old:
                del self.rows[crash_id]
        return len(old)

    def module_lists_submitted(self, day: str) -> Iterator[tuple[str, bytes, bytes]]:
        self._check()
        for crash_id, row in list(self.rows.items()):
            processed = row.get("processed")
            if crash_id[-6:] == day and processed is not None:
                modules, addons = layout.module_names(processed), layout.addon_ids(processed)
                yield crash_id, json.dumps(modules).encode(), json.dumps(addons).encode()

    def ensure_tables(self) -> None:
        self._check()


class MemoryQueues(_Store):
    """Queues by kind; a received message stays until deleted, and is received again
    (its receive count one higher) by ``receive`` after ``redeliver``."""

    name = "sqs"

    def __init__(self):
        super().__init__()
        self.messages: dict[str, list[list]] = {}  # kind -> [[body, handle, receive count, in flight]]
        self._handles = itertools.count()

    def publish(self, kind: str, body: str) -> None:
        self.publish_batch(kind, [body])

    def publish_batch(self, kind: str, bodies: list[str]) -> list[str]:
        self._check()
        with self.lock:
            for body in bodies:
                self.messages.setdefault(kind, []).append([body, str(next(self._handles)), 0, False])
        return []

    def bodies(self, kind: str) -> list[str]:
        return [message[0] for message in self.messages.get(kind, [])]

    def receive(self, kind: str, max_messages: int = 10, wait_seconds: int = 0,
                visibility_seconds: int | None = None) -> list[QueueMessage]:
        self._check()
        received = []
        with self.lock:
            for message in self.messages.get(kind, []):
                if len(received) < max_messages and not message[3]:
                    message[2] += 1
                    message[3] = True
                    received.append(QueueMessage(kind, message[0], message[1], message[2]))
        return received

    def redeliver(self) -> None:
        """What the visibility timeout does: messages received and not deleted come back."""
        with self.lock:
            for messages in self.messages.values():
                for message in messages:
                    message[3] = False

    def set_visibility(self, messages: list[QueueMessage], seconds: int) -> list[QueueMessage]:
        """A message made visible at once (0) can be received again; a later time is left
        to ``redeliver()``, as time does not pass here. Messages not in flight (deleted, or
        visible again) are returned."""
        self._check()
        handles = {message.receipt_handle for message in messages}
        in_flight = set()
        with self.lock:
            for queued in self.messages.values():
                for message in queued:
                    if message[1] in handles and message[3]:
                        in_flight.add(message[1])
                        if not seconds:
                            message[3] = False
        return [message for message in messages if message.receipt_handle not in in_flight]

    def delete(self, message: QueueMessage) -> None:
        self.delete_many([message])

    def delete_many(self, messages: list[QueueMessage]) -> None:
        self._check()
        handles = {message.receipt_handle for message in messages}
        with self.lock:
            for kind, queued in self.messages.items():
                self.messages[kind] = [message for message in queued if message[1] not in handles]

    def count(self, kind: str) -> int:
        return sum(self.counts(kind))

    def counts(self, kind: str) -> tuple[int, int]:
        self._check()
        with self.lock:
            in_flight = sum(1 for message in self.messages.get(kind, []) if message[3])
            return len(self.messages.get(kind, [])) - in_flight, in_flight

    def ensure_queues(self) -> None:
        self._check()


class MemorySymbolUploads(_Store):
    """The symbol upload records, and the report rows' missing modules, which unit tests
    add with ``add_report`` (the report row of ``crashflow.reports.report_row``)."""

    name = "postgres"

    def __init__(self, clock=lambda: dt.datetime.now(dt.timezone.utc)):
        super().__init__()
        self.clock = clock
        self.records: list[tuple[int, str, dt.datetime]] = []  # (id, symbol key, uploaded)
        self.reports: dict[str, dict] = {}  # crash id -> report row

    def add_report(self, row: dict) -> None:
        self._check()
        with self.lock:
            self.reports[row["uuid"]] = dict(row)

    def record(self, symbol_keys: list[str]) -> None:
        self._check()
        with self.lock:
            for key in symbol_keys:
                self.records.append((len(self.records) + 1, key, self.clock()))

    def recorded_since(self, last_id: int | None) -> tuple[int, list[str]]:
        self._check()
        latest = self.records[-1][0] if self.records else 0
        if last_id is None:
            return latest, []
        return latest, [key for record_id, key, _ in self.records if record_id > last_id]

    def crashes_missing(self, module_ids: list[str], days: int, limit: int) -> list[str]:
        self._check()
        since = self.clock() - dt.timedelta(days=days)
        found = [row for row in self.reports.values()
                 if row["date_processed"] >= since and set(row.get("missing_modules") or {}) & set(module_ids)]
        found.sort(key=lambda row: (row["date_processed"], row["uuid"]), reverse=True)
        return [row["uuid"] for row in found][:max(limit, 0)] if days > 0 else []

    def missing_symbols(self, day: dt.date, product: str | None = None) -> list[MissingSymbol]:
        self._check()
        crashes: dict[tuple[str, str], set[str]] = {}
        codes: dict[tuple[str, str], tuple[str, str]] = {}
        for row in self.reports.values():
            if row["date_processed"].date() != day or product not in (None, row.get("product")):
                continue
            for module_id, module in (row.get("missing_modules") or {}).items():
                brought = any(layout.module_id_of_symbol_key(key) == module_id and uploaded >= row["completed_datetime"]
                              for _, key, uploaded in self.records)
                if not brought:
                    name = (module["debug_file"], module["debug_id"])
                    crashes.setdefault(name, set()).add(row["uuid"])
                    code_file, code_id = codes.get(name, ("", ""))
                    codes[name] = (max(code_file, module["code_file"]), max(code_id, module["code_id"]))
        lines = [MissingSymbol(*name, *codes[name], len(uuids)) for name, uuids in crashes.items()]
        return sorted(lines, key=lambda line: (-line.crash_count, line.debug_file, line.debug_id))
