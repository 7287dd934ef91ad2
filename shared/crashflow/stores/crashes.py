"""The crash repository: one crash, wherever its parts are kept.

A crash lives in two stores. The crash bucket holds what the collector received (raw crash
and dumps) and is where a crash is first made durable; the crash record (HBase) holds the
raw annotations too (written by the collector in the background, or by process), the
processed crash and its history. So a raw crash is read from the record first (one small
read), and from the bucket when the record has none yet; dumps only ever come from the
bucket.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from crashflow.crashids import throttle_result_from_crash_id
from crashflow.stores.errors import CrashNotFound
from crashflow.stores.interfaces import CrashRecords, RawCrashStorage


@dataclass
class StoredCrash:
    """What processing needs of a crash before it starts."""

    crash_id: str
    raw_crash: dict
    # The runs so far, oldest first.
    history: list[dict]
    # Whether the crash record holds the raw annotations (else processing writes them).
    raw_in_record: bool


class CrashRepository:
    """Reads and writes crashes across the crash bucket and the crash records; shared by
    threads."""

    def __init__(self, records: CrashRecords, raw_crashes: RawCrashStorage, load_workers: int = 8):
        self.records = records
        self.raw_crashes = raw_crashes
        # Loads of one crash's dumps run side by side: each is a network round trip.
        self.loader = ThreadPoolExecutor(load_workers, thread_name_prefix="load")

    def raw_crash(self, crash_id: str) -> dict:
        """The raw crash: from its record, else from the bucket; CrashNotFound when neither
        has it."""
        raw = self.records.get_raw_crash(crash_id)
        return raw if raw is not None else self.raw_crashes.load_raw_crash(crash_id)

    def processed_crash(self, crash_id: str) -> dict | None:
        """The processed crash, or None when the crash was not processed (or is unknown)."""
        return self.records.get_processed_crash(crash_id)

    def is_stored(self, crash_id: str) -> bool:
        """Whether the crash bucket has the crash: it may be processed."""
        try:
            self.raw_crashes.load_raw_crash(crash_id)
        except CrashNotFound:
            return False
        return True

    def stored_crash(self, crash_id: str) -> StoredCrash:
        """The raw crash and processing history, in one read of the record; the raw crash
        from the bucket when the record has none. CrashNotFound when the bucket lacks it too."""
        raw_crash, history = self.records.raw_crash_and_history(crash_id)
        if raw_crash is not None:
            return StoredCrash(crash_id, raw_crash, history, raw_in_record=True)
        return StoredCrash(crash_id, self.raw_crashes.load_raw_crash(crash_id), history, raw_in_record=False)

    def dumps(self, crash: StoredCrash) -> tuple[dict[str, bytes], list[str]]:
        """The crash's dumps, and a note for each one that is gone (retention, by hand):
        processing goes on with what is left. The names come from the collector's
        checksums in the raw crash, or from the stored dump names for raw crashes without
        them. CrashNotFound when a dump is gone because the whole crash is."""
        checksums = (crash.raw_crash.get("metadata") or {}).get("dump_checksums")
        names = list(checksums) if isinstance(checksums, dict) else self._dump_names(crash.crash_id)
        loads = {name: self.loader.submit(self.raw_crashes.load_dump, crash.crash_id, name) for name in names}
        dumps, notes = {}, []
        for name, load in loads.items():
            try:
                dumps[name] = load.result()
            except CrashNotFound:
                notes.append(f"dump {name} is not in storage")
        if notes and crash.raw_in_record:
            # The record outlives the bucket's copy: is the whole crash gone?
            self.raw_crashes.load_raw_crash(crash.crash_id)
        return dumps, notes

    def _dump_names(self, crash_id: str) -> list[str]:
        try:
            return self.raw_crashes.load_dump_names(crash_id)
        except CrashNotFound:
            return []

    def dump_names(self, crash_id: str) -> list[str]:
        """The names of the crash's dumps; CrashNotFound for an unknown crash."""
        return self.raw_crashes.load_dump_names(crash_id)

    def dump(self, crash_id: str, name: str) -> bytes:
        return self.raw_crashes.load_dump(crash_id, name)

    def save_processed(self, crash: StoredCrash, processed: dict, history: list[dict]) -> None:
        """Write the processed crash and its ``history`` (this run included) to the record,
        with the raw annotations when the record lacked them."""
        self.records.put_processed_crash(
            crash.crash_id, None if crash.raw_in_record else crash.raw_crash, processed, history=history,
        )

    def unprocessed_crash_ids(self, day: dt.date) -> Iterator[str]:
        """The crashes accepted on ``day`` that the bucket has and no record says were
        processed (say, the queue was down when they came): what ``crashflow recover``
        queues again."""
        after = ""
        while crash_ids := self.raw_crashes.raw_crash_ids(day, after=after):
            for crash_id in crash_ids:
                if throttle_result_from_crash_id(crash_id) == 0 and not self.records.is_processed(crash_id):
                    yield crash_id
            after = crash_ids[-1]
