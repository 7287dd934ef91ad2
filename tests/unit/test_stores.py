"""The stores layer without services: the one constructor, the crash repository over the
in-memory stores, the key layout, and backend failures turned into StoreUnavailable
(against ports where nothing listens)."""

from __future__ import annotations

import datetime as dt
import os
import threading

import pytest

from crashflow.crashids import create_crash_id
from crashflow.settings import Settings
from crashflow.stores import layout
from crashflow.stores.crashes import CrashRepository
from crashflow.stores.errors import CrashNotFound, StoreUnavailable
from crashflow.stores.factory import ROLES, Stores
from crashflow.stores.hbase import CrashTable
from crashflow.stores.memory import MemoryCrashRecords, MemoryQueues, MemoryRawCrashStorage
from crashflow.stores.postgres import Database
from crashflow.stores.s3 import CrashStorage

# Nothing listens on port 1: connections are refused at once.
NOWHERE = Settings(namespace="nowhere", hbase_thrift_port=1, pg_port=1, aws_endpoint_url="http://127.0.0.1:1")
DAY = dt.datetime(2026, 11, 26, 12, tzinfo=dt.timezone.utc)


def test_each_store_is_built_once_per_stores_and_connects_to_nothing_yet():
    stores = Stores.from_settings(NOWHERE, "jobs")
    built = []
    threads = [threading.Thread(target=lambda: built.append((stores.records, stores.raw_crashes, stores.reports)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({tuple(map(id, trio)) for trio in built}) == 1
    other = Stores.from_settings(NOWHERE, "jobs")
    assert other.records is not stores.records
    crashes = other.crashes  # made of the stores' own records and crash bucket
    assert (crashes.records, crashes.raw_crashes) == (other.records, other.raw_crashes)


def test_roles_set_pool_sizes_and_the_collector_gives_up_quickly():
    assert set(ROLES) == {"collector", "processor", "query", "jobs", "cli", "relay"}
    with pytest.raises(ValueError, match="unknown role 'web'"):
        Stores.from_settings(NOWHERE, "web")
    processor = Stores.from_settings(NOWHERE, "processor")
    assert processor.pool_size == 4 * (os.cpu_count() or 1)
    assert processor.records._pool_options["timeout"] == NOWHERE.hbase_timeout_ms
    collector = Stores.from_settings(NOWHERE, "collector")
    assert collector.records._pool_options["timeout"] == NOWHERE.hbase_collector_timeout_ms
    sender = collector.queues.sender
    assert (sender.connect_timeout_ms, sender.attempts) == (1000 * NOWHERE.collector_sqs_connect_timeout,
                                                           NOWHERE.collector_sqs_max_attempts)
    assert Stores.from_settings(NOWHERE, "query").queues.sender.connect_timeout_ms == 5000


def test_given_stores_are_used_as_they_are():
    queues = MemoryQueues()
    stores = Stores(NOWHERE, "relay", queues=queues)
    assert stores.queues is queues


def test_backend_failures_are_store_unavailable_with_the_store_name():
    with pytest.raises(StoreUnavailable) as hbase:
        CrashTable(NOWHERE).get_raw_crash(create_crash_id())
    with pytest.raises(StoreUnavailable) as postgres:
        with Database(NOWHERE).connection() as connection:
            connection.run("SELECT 1")
    storage = CrashStorage(NOWHERE)
    storage.objects.http.attempts = 1
    with pytest.raises(StoreUnavailable) as s3:
        storage.load_raw_crash(create_crash_id())
    assert (hbase.value.store, postgres.value.store, s3.value.store) == ("hbase", "postgres", "s3")
    assert Stores.from_settings(NOWHERE, "cli").health("hbase", "postgres") == {"hbase": False, "postgres": False}


def repository() -> tuple[CrashRepository, MemoryCrashRecords, MemoryRawCrashStorage]:
    records, raw_crashes = MemoryCrashRecords(), MemoryRawCrashStorage()
    return CrashRepository(records, raw_crashes), records, raw_crashes


def collected(raw_crashes, dumps=None, throttle_result=0, **annotations) -> str:
    crash_id = create_crash_id(DAY, throttle_result)
    dumps = {"upload_file_minidump": b"MDMP"} if dumps is None else dumps
    raw_crashes.save_raw_crash(crash_id, {"uuid": crash_id, **annotations}, dumps)
    return crash_id


def test_the_raw_crash_comes_from_its_record_first_then_from_the_bucket():
    crashes, records, raw_crashes = repository()
    crash_id = collected(raw_crashes, ProductName="InBucket")
    assert crashes.raw_crash(crash_id)["ProductName"] == "InBucket"
    stored = crashes.stored_crash(crash_id)
    assert (stored.raw_crash["ProductName"], stored.history, stored.raw_in_record) == ("InBucket", [], False)
    records.put_raw_crashes([(crash_id, {"uuid": crash_id, "ProductName": "InRecord"})])
    assert crashes.raw_crash(crash_id)["ProductName"] == "InRecord"
    assert crashes.stored_crash(crash_id).raw_in_record
    with pytest.raises(CrashNotFound):
        crashes.raw_crash(create_crash_id())
    assert crashes.is_stored(crash_id) and not crashes.is_stored(create_crash_id())


def test_saving_a_processed_crash_writes_the_raw_crash_only_where_the_record_lacks_it():
    crashes, records, raw_crashes = repository()
    crash_id = collected(raw_crashes, ProductName="P")
    stored = crashes.stored_crash(crash_id)
    crashes.save_processed(stored, {"signature": "S"}, history=[{"signature": "S"}])
    assert records.get_raw_crash(crash_id)["ProductName"] == "P"
    assert crashes.processed_crash(crash_id) == {"signature": "S"}
    again = crashes.stored_crash(crash_id)
    assert again.raw_in_record and again.history == [{"signature": "S"}]


def test_dumps_gone_are_noted_and_a_crash_gone_is_not_found():
    crashes, records, raw_crashes = repository()
    crash_id = collected(raw_crashes, dumps={"upload_file_minidump": b"MDMP", "upload_file_minidump_content": b"C"})
    stored = crashes.stored_crash(crash_id)  # no checksums in the raw crash: the dump names say
    assert crashes.dumps(stored) == ({"upload_file_minidump": b"MDMP", "upload_file_minidump_content": b"C"}, [])
    raw_crashes.objects.pop(layout.dump_key(crash_id, "upload_file_minidump_content"))
    assert crashes.dumps(stored) == ({"upload_file_minidump": b"MDMP"}, ["dump upload_file_minidump_content is not in storage"])
    # The collector's record names the dumps by their checksums.
    checksums = {"upload_file_minidump": "…", "upload_file_minidump_content": "…"}
    records.put_raw_crashes([(crash_id, {**stored.raw_crash, "metadata": {"dump_checksums": checksums}})])
    raw_crashes.delete_crashes([crash_id], raw=True)
    with pytest.raises(CrashNotFound):  # only the record is left
        crashes.dumps(crashes.stored_crash(crash_id))


def test_unprocessed_crashes_are_the_accepted_ones_without_a_processed_record():
    crashes, records, raw_crashes = repository()
    waiting, processed = collected(raw_crashes), collected(raw_crashes)
    collected(raw_crashes, throttle_result=1)  # deferred by the throttler: never processed
    records.put_processed_crash(processed, {"uuid": processed}, {"signature": "S"})
    assert list(crashes.unprocessed_crash_ids(DAY.date())) == [waiting]
    assert list(crashes.unprocessed_crash_ids(DAY.date() - dt.timedelta(days=1))) == []


def test_the_crash_bucket_layout():
    crash_id = "de1bb258-cbbf-4589-a673-34f800160918"
    assert layout.raw_crash_key(crash_id) == f"v1/raw_crash/20160918/{crash_id}"
    assert layout.dump_key(crash_id, "upload_file_minidump") == f"v1/dump/{crash_id}"
    assert layout.dump_key(crash_id, "upload_file_minidump_content") == f"v1/upload_file_minidump_content/{crash_id}"
    assert layout.dump_names_key(crash_id) == f"v1/dump_names/{crash_id}"
    assert layout.day_of_raw_crash_prefix(layout.raw_crash_day_prefix(dt.date(2016, 9, 18))) == dt.date(2016, 9, 18)
    assert layout.crash_id_of_key(layout.raw_crash_key(crash_id)) == crash_id
    assert layout.submitted_index_key(crash_id, "2016-09-18T10:00:00") == f"d2016-09-18T10:00:00{crash_id}".encode()
