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
