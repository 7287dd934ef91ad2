"""Smoke tests: each real part answers the way crashflow uses it."""

import time
import uuid

import happybase
import pytest

from crashflow.stores import postgres, sqs
from crashflow.stores.boto import boto3_client

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
    client = boto3_client(settings, "s3")
    client.put_object(Bucket=settings.crash_bucket, Key="smoke/object", Body=b"\x00\x01dump")
    assert client.get_object(Bucket=settings.crash_bucket, Key="smoke/object")["Body"].read() == b"\x00\x01dump"

    queues = sqs.CrashQueues(settings)
    body = str(uuid.uuid4())
    queues.publish("reprocessing", body)
    # The queue is the test namespace's: other tests may have left messages in it.
    ours, deadline = [], time.monotonic() + 10
    while not ours and time.monotonic() < deadline:
        ours = [m for m in queues.receive("reprocessing", max_messages=10, wait_seconds=1) if m.body == body]
    assert [m.body for m in ours] == [body]
    queues.delete(ours[0])
    assert all(m.body != body for m in queues.receive("reprocessing", max_messages=10))


def test_schema_is_idempotent(settings, stack):
    postgres.upgrade(settings)
    postgres.upgrade(settings)
    connection = postgres.connect(settings)
    try:
        tables = {row[0] for row in connection.run("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    finally:
        connection.close()
    assert {"reports", "crashes_per_day", "top_crashers", "job_runs"} <= tables


def test_crash_table_submitted_index(settings, stack):
    """Every record written with its raw crash gets its submitted-time index row, under the
    salted key retention scans, on real HBase."""
    from process_support import has_submitted_index_row

    from crashflow.crashids import create_crash_id
    from crashflow.stores.hbase import CrashTable

    table = CrashTable(settings)
    # A day no other test (or earlier run on the same HBase) wrote.
    stamp = f"{2100 + uuid.uuid4().int % 7900}-01-0{uuid.uuid4().int % 9 + 1}T10:00:0"
    written = {}
    for second in (3, 1, 2):
        crash_id = create_crash_id()
        written[crash_id] = f"{stamp}{second}"
        table.put_processed_crash(crash_id, {"submitted_timestamp": written[crash_id]}, {"signature": "Sig"})
    collected = create_crash_id()
    written[collected] = f"{stamp}4"
    table.put_raw_crashes([(collected, {"submitted_timestamp": written[collected]})])
    for crash_id, submitted in written.items():
        assert has_submitted_index_row(settings, crash_id, submitted)
    assert not has_submitted_index_row(settings, collected, f"{stamp}5")


def test_setup_drops_the_unread_signature_index(settings, stack):
    """Earlier versions wrote an HBase index by signature that nothing read; crashes of a
    signature are found in Postgres. `crashflow setup` drops the table where it is left."""
    from crashflow.stores.hbase import OBSOLETE_TABLES, TABLES, CrashTable

    table = CrashTable(settings)
    with table._connection() as connection:
        for name in OBSOLETE_TABLES:
            if name.encode() not in connection.tables():
                connection.create_table(name, {"ids": {"max_versions": 1}})
    table.ensure_tables()
    with table._connection() as connection:
        names = {name.decode() for name in connection.tables()}
    assert set(TABLES) <= names and not set(OBSOLETE_TABLES) & names
