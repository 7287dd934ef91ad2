"""Smoke tests: each real part answers the way crashflow uses it."""

import uuid

import happybase
import pytest

from crashflow.stores import postgres, s3, sqs

pytestmark = pytest.mark.integration


def test_hbase_put_get_scan(settings):
    connection = happybase.Connection(settings.hbase_host, settings.hbase_thrift_port, timeout=60_000)
    name = f"smoke_{uuid.uuid4().hex[:8]}"
    connection.create_table(name, {"cf": {}})
    try:
        table = connection.table(name)
        for key in (b"a1", b"a2", b"b1"):
            table.put(key, {b"cf:value": key * 2})
        assert table.row(b"a2") == {b"cf:value": b"a2a2"}
        assert [key for key, _ in table.scan(row_prefix=b"a")] == [b"a1", b"a2"]
        assert table.row(b"zz") == {}
    finally:
        connection.delete_table(name, disable=True)
        connection.close()


def test_postgres_round_trip(settings, stack):
    connection = postgres.connect(settings)
    try:
        connection.run("CREATE TEMP TABLE smoke (id int, name text)")
        connection.run("INSERT INTO smoke VALUES (:id, :name)", id=7, name="crash'; DROP TABLE smoke; --")
        assert connection.run("SELECT id, name FROM smoke") == [[7, "crash'; DROP TABLE smoke; --"]]
    finally:
        connection.close()


def test_s3_and_sqs_round_trip(settings, stack):
    client = s3.client(settings, "s3")
    client.put_object(Bucket=settings.crash_bucket, Key="smoke/object", Body=b"\x00\x01dump")
    assert client.get_object(Bucket=settings.crash_bucket, Key="smoke/object")["Body"].read() == b"\x00\x01dump"

    queues = sqs.CrashQueues(settings)
    body = str(uuid.uuid4())
    queues.publish("reprocessing", body)
    messages = queues.receive("reprocessing", wait_seconds=2)
    assert [m.body for m in messages] == [body]
    queues.delete(messages[0])
    assert queues.receive("reprocessing") == []


def test_schema_is_idempotent(settings, stack):
    postgres.upgrade(settings)
    postgres.upgrade(settings)
    connection = postgres.connect(settings)
    try:
        tables = {row[0] for row in connection.run("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    finally:
        connection.close()
    assert {"reports", "crashes_per_day", "top_crashers", "job_runs"} <= tables


def test_crash_table_indexes(settings, stack):
    """Crashes found by submitted time (16 salted scans merged in time order) and by exact
    signature, on real HBase."""
    from crashflow.crashids import create_crash_id
    from crashflow.stores.hbase import CrashTable

    table = CrashTable(settings)
    # A day no other test (or earlier run on the same HBase) wrote.
    stamp = f"{2100 + uuid.uuid4().int % 7900}-01-0{uuid.uuid4().int % 9 + 1}T10:00:0"
    crash_ids = []
    for second in (3, 1, 2):
        crash_id = create_crash_id()
        crash_ids.append((second, crash_id))
        table.put_processed_crash(
            crash_id, {"submitted_timestamp": f"{stamp}{second}"}, {"signature": f"Sig{second}"}
        )
    expected = [crash_id for _, crash_id in sorted(crash_ids)]
    assert table.crash_ids_submitted(f"{stamp}0", f"{stamp}9") == expected
    assert table.crash_ids_submitted(f"{stamp}2", f"{stamp}3") == expected[1:2]
    sig1 = expected[0]
    assert sig1 in table.crash_ids_by_signature("Sig1")
    # "Sig" is a prefix of "Sig1<id>" but not a signature of any of them.
    assert not set(expected) & set(table.crash_ids_by_signature("Sig"))
