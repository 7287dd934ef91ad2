"""Helpers of the process tests: store crashes as collect does, count what processing wrote."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging

from conftest import DATA
from crashflow.crashids import create_crash_id
from crashflow.settings import Settings
from crashflow.stores import layout, postgres
from crashflow.stores.boto import boto3_client
from crashflow.stores.errors import StoreUnavailable
from crashflow.stores.hbase import CRASH_REPORTS, INDEX_SUBMITTED, CrashTable
from crashflow.stores.s3 import CrashStorage

SYMBOLS = DATA / "symbols"
log = logging.getLogger(__name__)


def store_crash(settings: Settings, annotations: dict, dumps: dict[str, bytes],
                submitted: dt.datetime | None = None, hbase: bool = True) -> str:
    """Store a raw crash the way collect does: in S3, then (unless ``hbase`` is false) its
    annotations in HBase, best effort (HBase may be down in a fault test). Return its id."""
    submitted = submitted or dt.datetime.now(dt.timezone.utc)
    crash_id = create_crash_id(submitted)
    raw_crash = dict(annotations)
    raw_crash.update(
        uuid=crash_id, submitted_timestamp=submitted.isoformat(), version=2,
        metadata={"dump_checksums": {name: hashlib.sha256(data).hexdigest() for name, data in dumps.items()}},
    )
    CrashStorage(settings).save_raw_crash(crash_id, raw_crash, dumps)
    if hbase:
        try:
            CrashTable(settings, timeout_ms=3000).put_raw_crashes([(crash_id, raw_crash)])
        except StoreUnavailable as error:  # as in collect: S3 is the durable landing
            log.warning("HBase unavailable for %s: %s", crash_id, error)
    return crash_id


def dump_crash(settings: Settings, dump_name: str, hbase: bool = True, **annotations) -> str:
    annotations.setdefault("ProductName", "ProcessTest")
    annotations.setdefault("Version", "1.0")
    dump = (DATA / "minidumps" / dump_name).read_bytes()
    return store_crash(settings, annotations, {"upload_file_minidump": dump}, hbase=hbase)


def upload_symbols(settings: Settings) -> list[str]:
    """Every symbol file of tests/data into the symbols bucket, in the symbol server layout."""
    s3 = boto3_client(settings, "s3")
    keys = []
    for path in sorted(SYMBOLS.rglob("*.sym")):
        key = path.relative_to(SYMBOLS).as_posix()
        s3.put_object(Bucket=settings.symbols_bucket, Key=key, Body=path.read_bytes())
        keys.append(key)
    return keys


def delete_symbols(settings: Settings) -> None:
    s3 = boto3_client(settings, "s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.symbols_bucket):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=settings.symbols_bucket, Key=item["Key"])


def report_rows(settings: Settings, crash_ids: list[str]) -> dict[str, int]:
    """crash id -> number of ``reports`` rows."""
    return {uuid: count for uuid, count in _reports(
        settings, "SELECT uuid, count(*) FROM reports WHERE uuid = ANY(:ids) GROUP BY uuid", crash_ids,
    )}


def report_signatures(settings: Settings, crash_ids: list[str]) -> dict[str, str]:
    """crash id -> the signature of its ``reports`` row (where crashes of a signature are found)."""
    return dict(_reports(settings, "SELECT uuid, signature FROM reports WHERE uuid = ANY(:ids)", crash_ids))


def _reports(settings: Settings, sql: str, crash_ids: list[str]) -> list:
    connection = postgres.connect(settings)
    try:
        return connection.run(sql, ids=list(crash_ids))
    finally:
        connection.close()


def has_submitted_index_row(settings: Settings, crash_id: str, submitted: str) -> bool:
    """Whether the submitted-time index has the crash's row, where retention finds it."""
    with CrashTable(settings)._connection() as connection:
        row = connection.table(INDEX_SUBMITTED).row(layout.submitted_index_key(crash_id, submitted))
    return row.get(b"ids:ooid") == crash_id.encode()


def processed_records(settings: Settings, crash_ids: list[str]) -> dict[str, dict]:
    """crash id -> processed crash, for those HBase holds a processed record of."""
    table = CrashTable(settings)
    with table._connection() as connection:
        rows = connection.table(CRASH_REPORTS).rows(
            [layout.hbase_row_key(crash_id) for crash_id in crash_ids],
            columns=[b"ids:ooid", b"flags:processed", b"processed_data:json"],
        )
    return {
        data[b"ids:ooid"].decode(): json.loads(data[b"processed_data:json"])
        for _, data in rows
        if data.get(b"flags:processed") == b"Y"
    }
