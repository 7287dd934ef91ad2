"""The process function on the real stack: idempotent writes, messages that can never
succeed, on-demand processing, rule sets, crashes without a dump, partitions, indexes."""

import datetime as dt
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import DATA, REPO, TEST_NAMESPACE, FunctionServer, free_port
from crashflow.processor.service import Processor
from crashflow.relay import Relay, post_event
from crashflow.stores.hbase import CrashTable
from crashflow.stores.layout import dump_key, raw_crash_key
from crashflow.stores.s3 import CrashStorage
from crashflow.stores.sqs import CrashQueues
from process_support import (
    delete_symbols,
    dump_crash,
    has_submitted_index_row,
    processed_records,
    report_rows,
    report_signatures,
    store_crash,
    upload_symbols,
)

pytestmark = pytest.mark.integration

NOT_STORED = "00000000-0000-4000-8000-000000261126"


@pytest.fixture(scope="module")
def process_url(stack, tmp_path_factory):
    env = dict(
        os.environ, CRASHFLOW_NAMESPACE=TEST_NAMESPACE,
        CRASHFLOW_SYMBOLS_CACHE_DIR=str(tmp_path_factory.mktemp("symbols-cache")),
    )
    (REPO / ".local" / "logs").mkdir(parents=True, exist_ok=True)  # FunctionServer logs there
    server = FunctionServer("process", free_port(), env)
    try:
        server.wait_ready()
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def processor(stack, tmp_path):
    return Processor(stack.model_copy(update={"symbols_cache_dir": tmp_path}))


def deliver(url: str, body: str) -> requests.Response:
    return post_event(f"{url}/", "com.crashflow.crash.queued", "test", body, timeout=60)


def drain(settings, url: str) -> None:
    relay = Relay(settings.model_copy(update={"process_url": url}))
    try:
        while relay.drain_once():
            pass
    finally:
        relay.close()


def test_the_same_message_twice_leaves_one_row_and_one_record(stack, process_url):
    crash_id = dump_crash(stack, "test.dmp")
    queues = CrashQueues(stack)
    queues.publish("standard", crash_id)
    queues.publish("standard", crash_id)
    drain(stack, process_url)
    assert report_rows(stack, [crash_id]) == {crash_id: 1}
    processed = processed_records(stack, [crash_id])[crash_id]
    assert processed["signature"] == "test_app.exe"
    # Delivered one after the other or both at once, it is processed once.
    assert "processor_history" not in processed


def test_a_processed_crash_delivered_again_is_not_processed_again(stack, process_url):
    crash_id = dump_crash(stack, "test.dmp")
    queues = CrashQueues(stack)
    queues.publish("standard", crash_id)
    drain(stack, process_url)
    first = processed_records(stack, [crash_id])[crash_id]
    # Redelivered (a relay killed between process's answer and the delete, a publish
    # retried after a lost answer): dropped, the record untouched.
    for kind in ("standard", "priority"):
        queues.publish(kind, crash_id)
    drain(stack, process_url)
    again = processed_records(stack, [crash_id])[crash_id]
    assert again["completed_datetime"] == first["completed_datetime"]
    assert "processor_history" not in again
    assert report_rows(stack, [crash_id]) == {crash_id: 1}
    # The reprocessing queue still processes it again.
    queues.publish("reprocessing", crash_id)
    drain(stack, process_url)
    reprocessed = processed_records(stack, [crash_id])[crash_id]
    assert [line.split(" ")[0] for line in reprocessed["processor_history"]] == [first["completed_datetime"]]


def test_a_crash_delivered_twice_at_once_is_processed_once(stack, processor, monkeypatch):
    """Two deliveries of one crash id side by side (two messages for it, say a publish the
    collector retried after a lost answer, handed to process together): one processes it,
    the other waits for that run and drops it."""
    crash_id = dump_crash(stack, "test.dmp")
    reads, walks, both_read = [], [], threading.Event()
    stored_crash, run = processor.crashes.stored_crash, processor.pipelines["default"].run

    def counted_read(asked):
        stored = stored_crash(asked)
        reads.append(asked)
        if len(reads) == 2:
            both_read.set()
        return stored

    def held_run(crash):
        walks.append(crash.crash_id)
        # The first run waits until the other delivery has read the crash too, which it
        # does at once unless it waits for this run (then the first goes on after 3 s).
        both_read.wait(3)
        return run(crash)

    monkeypatch.setattr(processor.crashes, "stored_crash", counted_read)
    monkeypatch.setattr(processor.pipelines["default"], "run", held_run)
    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(outcome.status for outcome in pool.map(lambda _: processor.process(crash_id), range(2)))
    assert outcomes == ["already_processed", "processed"]
    assert walks == [crash_id]
    assert report_rows(stack, [crash_id]) == {crash_id: 1}
    assert "processor_history" not in processed_records(stack, [crash_id])[crash_id]


@pytest.mark.parametrize("body, status", [
    (NOT_STORED, "missing"),
    ("not a crash id", "rejected"),
    (f"{NOT_STORED}:no_such_ruleset", "rejected"),
])
def test_messages_that_can_never_succeed_are_acknowledged(process_url, body, status):
    answer = deliver(process_url, body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == status


def test_on_demand_processing_returns_the_processed_crash(stack, process_url):
    crash_id = dump_crash(stack, "linux-mini.dmp")
    answer = requests.post(f"{process_url}/process", params={"crash_id": f"bp-{crash_id}"}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["processed"]["uuid"] == crash_id
    assert answer.json()["processed"]["os_name"] == "Linux"
    assert requests.post(f"{process_url}/process", params={"crash_id": NOT_STORED}, timeout=60).status_code == 404
    assert requests.post(f"{process_url}/process", params={"crash_id": "nope"}, timeout=60).status_code == 400


def test_regenerate_signature_re_signs_without_stack_walking(stack, processor):
    crash_id = dump_crash(stack, "test.dmp")
    first = processor.process(crash_id).processed
    assert first["signature"] == "test_app.exe"
    upload_symbols(stack)
    try:
        resigned = processor.process(crash_id, "regenerate_signature").processed
        # The stored stackwalker output (walked without symbols) was re-signed, not re-walked.
        assert resigned["json_dump"] == first["json_dump"]
        assert resigned["signature"] == "test_app.exe"
        assert "signature regenerated" in resigned["processor_notes"]
        assert resigned["ruleset"] == "regenerate_signature"

        # A standard-queue message for it now is a redelivery: dropped, nothing walked again ...
        assert processor.process(crash_id).status == "already_processed"
        # ... a reprocessing message walks it again, asking the bucket for what it lacked.
        reprocessed = processor.process(crash_id, fresh_symbols=True).processed
        assert reprocessed["signature"] == "(anonymous namespace)::CrashFunction"
        assert [line.split(" ")[1] for line in reprocessed["processor_history"]] == ["default:", "regenerate_signature:"]
        assert report_rows(stack, [crash_id]) == {crash_id: 1}
        # Crashes of a signature are found in Postgres: the row follows the new signature.
        assert report_signatures(stack, [crash_id]) == {crash_id: "(anonymous namespace)::CrashFunction"}
    finally:
        delete_symbols(stack)


def test_a_crash_without_a_dump_uses_its_annotations(stack, processor, monkeypatch):
    crash_id = store_crash(stack, {
        "ProductName": "Electronish", "Version": "30.0.1", "platform": "linux", "process_type": "renderer",
        "InstallTime": "1700000000", "Add-ons": "a%40b:1.0",
    }, {})
    dump_reads = []
    storage = processor.crashes.raw_crashes
    load_dump = storage.load_dump
    monkeypatch.setattr(storage, "load_dump", lambda *args: dump_reads.append(args) or load_dump(*args))
    processed = processor.process(crash_id).processed
    assert dump_reads == []  # the raw crash names no dump: no S3 read for one
    assert processed["mdsw_status_string"] == "NoMinidump" and processed["success"] is False
    assert processed["signature"] == "EMPTY: crash failed to process"
    assert (processed["os_name"], processed["process_type"], processed["major_version"]) == ("Linux", "renderer", 30)
    assert processed["addons"] == ["a@b:1.0"]
    found = [row for row in CrashTable(stack).module_lists_submitted(crash_id[-6:]) if row[0] == crash_id]
    assert found == [(crash_id, b"[]", b'["a@b"]')]


def test_a_crash_from_a_week_without_a_partition_is_stored(stack, processor):
    submitted = dt.datetime(2020, 1, 1, 12, tzinfo=dt.timezone.utc)
    crash_id = store_crash(stack, {"ProductName": "Old"}, {"upload_file_minidump": b""}, submitted=submitted)
    processed = processor.process(crash_id).processed
    assert processed["mdsw_status_string"] == "EmptyMinidump"
    assert report_rows(stack, [crash_id]) == {crash_id: 1}
    assert has_submitted_index_row(stack, crash_id, submitted.isoformat())


def test_the_dump_is_hashed_and_the_annotations_typed(stack, processor):
    dump = (DATA / "minidumps" / "test.dmp").read_bytes()
    crash_id = store_crash(stack, {
        "ProductName": "Typed", "Version": "7.1", "CrashTime": "1764144000", "StartupTime": "1764143000",
        "InstallTime": "not a number", "Weird\u0000Name": "x",
    }, {"upload_file_minidump": dump})
    processed = processor.process(crash_id).processed
    assert processed["uptime"] == 1000
    assert "install_time" not in processed
    assert "annotation InstallTime: not a valid int" in processed["processor_notes"]
    assert CrashTable(stack).get_raw_crash(crash_id)["Weird\u0000Name"] == "x"  # the raw crash stays raw


@pytest.mark.parametrize("in_hbase", [True, False], ids=["annotations-in-hbase", "annotations-only-in-s3"])
def test_a_dump_gone_from_storage_is_noted_not_fatal(stack, processor, in_hbase):
    crash_id = dump_crash(stack, "test.dmp", hbase=in_hbase)
    storage = CrashStorage(stack)
    storage.s3.delete_object(Bucket=stack.crash_bucket, Key=dump_key(crash_id, "upload_file_minidump"))
    outcome = processor.process(crash_id)
    assert outcome.status == "processed"
    assert outcome.processed["mdsw_status_string"] == "NoMinidump"
    assert "dump upload_file_minidump is not in storage" in outcome.processed["processor_notes"]


def test_annotations_are_read_from_s3_when_collect_could_not_write_hbase(stack, processor):
    crash_id = dump_crash(stack, "linux-mini.dmp", hbase=False, ProductName="OnlyInS3")
    assert CrashTable(stack).get_raw_crash(crash_id) is None
    assert processor.process(crash_id).processed["product"] == "OnlyInS3"
    table = CrashTable(stack)
    raw_crash = table.get_raw_crash(crash_id)  # written now, with the submitted-time index row
    assert raw_crash["ProductName"] == "OnlyInS3"
    assert has_submitted_index_row(stack, crash_id, raw_crash["submitted_timestamp"])


def test_a_crash_gone_from_s3_is_missing_even_if_hbase_has_its_annotations(stack, processor):
    crash_id = dump_crash(stack, "test.dmp")
    storage = CrashStorage(stack)
    for key in (dump_key(crash_id, "upload_file_minidump"), raw_crash_key(crash_id)):
        storage.s3.delete_object(Bucket=stack.crash_bucket, Key=key)
    assert processor.process(crash_id).status == "missing"


def test_the_processor_starts_while_hbase_is_down(stack, tmp_path):
    down = stack.model_copy(update={"symbols_cache_dir": tmp_path, "hbase_thrift_port": free_port()})
    processor = Processor(down)  # connects to HBase on first use, not here
    assert processor.health() == {"s3": True, "hbase": False, "postgres": True}


def test_heartbeats(process_url):
    assert requests.get(f"{process_url}/__lbheartbeat__", timeout=10).json() == {"status": "ok"}
    answer = requests.get(f"{process_url}/__heartbeat__", timeout=30)
    assert answer.status_code == 200 and answer.json() == {"s3": True, "hbase": True, "postgres": True}
