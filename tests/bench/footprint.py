"""Footprint benchmark: what one crash costs each store and each function, for the capacity
plan (docs/capacity.md), measured on the running stack in a namespace of its own (dropped
at the end unless ``--keep``).

1. Crashes through collect and process as deployed (``crashflow serve``), then the bytes they
   left: in S3 per kind of object (raw crash, dump names, each dump), in HBase per table and
   column family (each cell counted as HBase's KeyValue serialises it: row, family, qualifier,
   timestamp, type, value and their lengths, i.e. the HFile's uncompressed cells), and in
   Postgres (the report row's datum size). Two corpora: the test minidumps (real dumps, each
   several times) and production-shaped uploads (tests/bench/collect.py's corpus: log-normal
   dump sizes, median 400 KB, 45 annotations). CPU seconds per crash of collect and process
   (their gunicorn trees, stackwalker children included, from /proc).
2. ``--supersearch N,M``: report rows loaded with reportgen (30 days, production-shaped:
   5,000 signatures, Zipf), VACUUM ANALYZEd; bytes per row of ``reports`` with its indexes and
   TOAST; the aggregate tables per day after the day jobs ran over them; and the 7-day
   SuperSearch facet queries through the query function, at each total in turn.

    .venv/bin/python tests/bench/footprint.py [--repeat 3] [--production 60] [--supersearch 1000000,10000000]

Prints JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import zlib
from collections import defaultdict
from contextlib import closing
from pathlib import Path

import pg8000.native
import requests

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from collect import corpus, cpu_seconds, process_tree  # noqa: E402
from conftest import DATA, FunctionServer, free_port  # noqa: E402
from query import drop_namespace  # noqa: E402
from reportgen import load_reports  # noqa: E402

from crashflow.aggregation.runner import run_job  # noqa: E402
from crashflow.provision import provision  # noqa: E402
from crashflow.relay import Relay  # noqa: E402
from crashflow.settings import Settings  # noqa: E402
from crashflow.stores.hbase import TABLES, CrashTable  # noqa: E402
from crashflow.stores.postgres import Database  # noqa: E402
from crashflow.stores.boto import boto3_client  # noqa: E402
from crashflow.stores.factory import Stores  # noqa: E402

REPO = HERE.parents[1]
DAY_JOBS = ("crashes_per_day", "top_crashers", "signatures", "explosiveness")
AGGREGATE_TABLES = ("crashes_per_day", "top_crashers", "top_crashers_by_product", "top_crashers_7_days",
                    "explosiveness", "signatures")
KEY_RE = re.compile(r"^v1/(?P<kind>[^/]+)/(?:\d{8}/)?(?P<id>[0-9a-f-]{36})$")


def keyvalue_bytes(row: bytes, column: bytes, value: bytes) -> int:
    """The size of one cell as an HFile holds it (KeyValue, no tags): key length (4), value
    length (4), row length (2), row, family length (1), family, qualifier, timestamp (8),
    type (1), value."""
    family, _, qualifier = column.partition(b":")
    return 4 + 4 + 2 + len(row) + 1 + len(family) + len(qualifier) + 8 + 1 + len(value)


def submit_all(url: str, uploads: list[tuple[dict, bytes]]) -> list[str]:
    ids = []
    session = requests.Session()
    for headers, body in uploads:
        answer = session.post(url + "/submit", data=body, headers=headers, timeout=60)
        text = answer.text.strip()
        if not text.startswith("CrashID=bp-"):
            raise SystemExit(f"collect answered {answer.status_code}: {text[:200]}")
        ids.append(text.removeprefix("CrashID=bp-"))
    return ids


def test_corpus(repeat: int) -> list[tuple[dict, bytes]]:
    """Every test minidump, ``repeat`` times, as Breakpad sends it (annotations as fields)."""
    uploads = []
    boundary = "footprintBoundary0123456789"
    for _ in range(repeat):
        for dump in sorted((DATA / "minidumps").glob("*.dmp")):
            fields = {"ProductName": "FootprintCorpus", "Version": "1.0", "BuildID": "20261101000000",
                      "ReleaseChannel": "release", "ProcessType": "main"}
            parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                     for k, v in fields.items()]
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="upload_file_minidump"; '
                         f'filename="{dump.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
                         + dump.read_bytes() + b"\r\n")
            parts.append(f"--{boundary}--\r\n".encode())
            uploads.append(({"Content-Type": f"multipart/form-data; boundary={boundary}"}, b"".join(parts)))
    return uploads


def tree_cpu(pid: int) -> float:
    """CPU seconds of a gunicorn tree, its reaped children (stackwalkers) included."""
    total = cpu_seconds(process_tree(pid))
    for member in process_tree(pid):
        fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    return total


def process_until_done(settings: Settings, process_url: str, crash_ids: list[str], timeout: float = 900) -> None:
    database = Database(settings, size=1)
    relay = Relay(settings.model_copy(update={"process_url": process_url}), workers=2)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with database.connection() as connection:
                done = connection.run("SELECT count(*) FROM reports WHERE uuid = ANY(:ids)", ids=crash_ids)[0][0]
            if done == len(crash_ids):
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"only {done} of {len(crash_ids)} crashes processed")
            relay.drain_once(wait_seconds=1)
    finally:
        relay.close()


def s3_bytes(settings: Settings) -> dict[str, dict[str, int]]:
    """crash id -> {kind of object: bytes}."""
    s3 = boto3_client(settings, "s3")
    sizes: dict[str, dict[str, int]] = defaultdict(dict)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.crash_bucket, Prefix="v1/"):
        for item in page.get("Contents", []):
            match = KEY_RE.match(item["Key"])
            if match:
                sizes[match["id"]][match["kind"]] = item["Size"]
    return sizes


def hbase_bytes(settings: Settings) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """crash id -> {family of crash_reports: KeyValue bytes, and "deflated": its values'
    bytes compressed with zlib level 6 (what HBase's GZ codec does to a block of them)}, and
    each index table's bytes."""
    table = CrashTable(settings)
    per_crash: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    indexes: dict[str, int] = defaultdict(int)
    with table.pool.connection() as connection:
        for name in TABLES:
            for key, data in connection.table(name).scan(batch_size=500):
                for column, value in data.items():
                    size = keyvalue_bytes(key, column, value)
                    if name == "crash_reports":
                        per_crash[data[b"ids:ooid"].decode()][column.split(b":")[0].decode()] += size
                    else:
                        indexes[name] += size
                if name == "crash_reports":
                    per_crash[data[b"ids:ooid"].decode()]["deflated"] = len(zlib.compress(
                        b"".join(key + column + value for column, value in sorted(data.items())), 6))
    return per_crash, dict(indexes)


def mean_of(values) -> float:
    values = list(values)
    return round(statistics.fmean(values), 1) if values else 0.0


def measure_crashes(settings: Settings, crash_ids: list[str], s3: dict, hbase: dict, hbase_indexes: dict,
                    all_crashes: int) -> dict:
    database = Database(settings, size=1)
    with database.connection() as connection:
        row_bytes = connection.run(
            "SELECT avg(pg_column_size(r.*)), avg(length(coalesce(r.processor_notes, ''))) FROM reports r "
            "WHERE uuid = ANY(:ids)", ids=crash_ids)[0]
    kinds = sorted({kind for crash_id in crash_ids for kind in s3.get(crash_id, {})})
    families = sorted({family for crash_id in crash_ids for family in hbase.get(crash_id, {})} - {"deflated"})
    s3_per_kind = {kind: mean_of(s3.get(crash_id, {}).get(kind, 0) for crash_id in crash_ids) for kind in kinds}
    hbase_per_family = {family: mean_of(hbase.get(crash_id, {}).get(family, 0) for crash_id in crash_ids)
                        for family in families}
    index_per_crash = {name: round(size / all_crashes, 1) for name, size in hbase_indexes.items()}
    return {
        "crashes": len(crash_ids),
        "s3_bytes_per_crash": {**s3_per_kind, "total": round(sum(s3_per_kind.values()), 1)},
        "hbase_keyvalue_bytes_per_crash": {
            "crash_reports": {**hbase_per_family, "total": round(sum(hbase_per_family.values()), 1)},
            **index_per_crash,
            "total": round(sum(hbase_per_family.values()) + sum(index_per_crash.values()), 1),
        },
        "hbase_crash_row_deflated_bytes": mean_of(hbase.get(crash_id, {}).get("deflated", 0) for crash_id in crash_ids),
        "postgres_report_row_datum_bytes": round(float(row_bytes[0] or 0), 1),
    }


def relation_bytes(connection, parent: str) -> dict:
    """Heap, TOAST and index bytes of a table and all its partitions."""
    (heap, toast, indexes), = connection.run("""
        SELECT sum(pg_relation_size(c.oid)),
               sum(coalesce(pg_total_relation_size(c.reltoastrelid), 0)),
               sum(pg_indexes_size(c.oid))
        FROM pg_class c
        WHERE c.oid = CAST(:parent AS regclass)
           OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = CAST(:parent AS regclass))
    """, parent=parent)
    return {"heap": int(heap or 0), "toast": int(toast or 0), "indexes": int(indexes or 0)}


def timed_requests(url: str, params: list, count: int) -> dict:
    requests.get(url, params=params, timeout=600)  # warm: plans and pages
    times = []
    for _ in range(count):
        started = time.perf_counter()
        answer = requests.get(url, params=params, timeout=600)
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"SuperSearch answered {answer.status_code}: {answer.text[:300]}")
    times.sort()
    return {"p50_ms": round(times[len(times) // 2], 1), "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
            "max_ms": round(times[-1], 1), "requests": count, "hits_total": answer.json().get("total")}


def supersearch_phase(settings: Settings, env: dict, totals: list[int], servers: list,
                      jobs_up_to: int) -> list[dict]:
    database = Database(settings, size=2)
    today = dt.datetime.now(dt.timezone.utc).date()
    query = FunctionServer("query", free_port(), dict(env, CRASHFLOW_API_SEARCH_TIMEOUT_MS="0"))
    servers.append(query)
    query.wait_ready()
    results, loaded = [], 0
    for seed, total in enumerate(totals, start=10):
        started = time.perf_counter()
        load_reports(database, total - loaded, 30, today, seed=seed)
        loaded = total
        # Minutes at 10M rows on a loaded machine: past the pool's 30 s socket timeout.
        with closing(pg8000.native.Connection(
                user=settings.pg_user, password=settings.pg_password, host=settings.pg_host,
                port=settings.pg_port, database=settings.database, timeout=None)) as connection:
            connection.run("VACUUM ANALYZE reports")
        load_s = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        jobs_s = None
        if total <= jobs_up_to:
            for job in DAY_JOBS:
                run = run_job(Stores.from_settings(settings, "jobs"), job, today - dt.timedelta(days=29), today)
                if run.status != "ok":
                    raise SystemExit(f"{job}: {run.error}")
            jobs_s = round(time.perf_counter() - started, 1)
        with database.connection() as connection:
            reports = relation_bytes(connection, "reports")
            rows = connection.run("SELECT count(*) FROM reports")[0][0]
            datum = connection.run("SELECT avg(pg_column_size(r.*)) FROM reports r TABLESAMPLE SYSTEM (1)")[0][0]
            aggregates = {}
            for table in AGGREGATE_TABLES if jobs_s is not None else ():
                sizes = relation_bytes(connection, table)
                aggregates[table] = {"bytes_per_day": round(sum(sizes.values()) / 30),
                                     "rows_per_day": round(connection.run(f"SELECT count(*) FROM {table}")[0][0] / 30)}
            settings_rows = dict(connection.run(
                "SELECT name, setting FROM pg_settings WHERE name IN ('shared_buffers', 'work_mem', 'max_parallel_workers_per_gather')"))
        week_ago = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=7)).strftime("%Y-%m-%d %H:%M:%S")
        url = f"{query.url}/api/SuperSearch/"
        results.append({
            "reports": rows,
            "load_s": load_s,
            "day_jobs_30_days_s": jobs_s,
            "reports_bytes": reports,
            "reports_bytes_per_row": round(sum(reports.values()) / rows, 1),
            "reports_row_datum_bytes": round(float(datum or 0), 1),
            "aggregate_tables_per_day": aggregates,
            "postgres_settings": settings_rows,
            "supersearch_7d_product_version_platform_facet": timed_requests(url, [
                ("product", "Firefox"), ("version", "121.0"), ("platform", "Windows NT"), ("date", f">={week_ago}"),
                ("_facets", "signature")], 10),
            "supersearch_7d_product_facet": timed_requests(url, [
                ("product", "Firefox"), ("date", f">={week_ago}"), ("_facets", "signature")], 5),
            "load_average": os.getloadavg(),
        })
        print(json.dumps(results[-1]), file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespace", default="cffootprint")
    parser.add_argument("--repeat", type=int, default=3, help="times each test minidump is sent")
    parser.add_argument("--production", type=int, default=60, help="production-shaped uploads")
    parser.add_argument("--supersearch", default="", help="report totals to load and search, e.g. 1000000,10000000")
    parser.add_argument("--jobs-up-to", type=int, default=1_000_000,
                        help="run the day jobs (aggregate sizes, job times) at report totals up to this")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    settings = Settings(namespace=args.namespace)
    env = dict(os.environ, CRASHFLOW_NAMESPACE=settings.namespace, CRASHFLOW_API_RATE_LIMIT_PER_MINUTE="0")
    report: dict = {"namespace": settings.namespace, "load_average_start": os.getloadavg()}
    servers = []
    try:
        drop_namespace(settings)
        provision(settings)
        collect = FunctionServer("collect", free_port(), env)
        process = FunctionServer("process", free_port(), env)
        servers += [collect, process]
        collect.wait_ready()
        process.wait_ready()
        phases = {"test_corpus": test_corpus(args.repeat), "production_shaped": corpus(args.production, seed=7)}
        ids, cpu = {}, {}
        for name, uploads in phases.items():
            before = tree_cpu(collect.process.pid)
            ids[name] = submit_all(collect.url, uploads)
            collect_cpu = tree_cpu(collect.process.pid) - before
            before = tree_cpu(process.process.pid)
            process_until_done(settings, process.url, ids[name])
            process_cpu = tree_cpu(process.process.pid) - before
            cpu[name] = {"collect_cpu_s_per_crash": round(collect_cpu / len(uploads), 4),
                         "process_cpu_s_per_crash": round(process_cpu / len(uploads), 4),
                         "upload_bytes_mean": round(statistics.fmean(len(body) for _, body in uploads))}
        time.sleep(2)  # collect's background HBase writer
        s3, (hbase, indexes) = s3_bytes(settings), hbase_bytes(settings)
        all_crashes = sum(len(crash_ids) for crash_ids in ids.values())
        report["crashes"] = {name: {**measure_crashes(settings, crash_ids, s3, hbase, indexes, all_crashes),
                                    **cpu[name]} for name, crash_ids in ids.items()}
        if args.supersearch:
            totals = [int(value) for value in args.supersearch.split(",")]
            report["supersearch"] = supersearch_phase(settings, env, totals, servers, args.jobs_up_to)
        report["load_average_end"] = os.getloadavg()
    except BaseException as error:
        report["failed"] = f"{type(error).__name__}: {error}"
        raise
    finally:
        for server in servers:
            server.stop()
        if not args.keep:
            report["cleanup_problems"] = drop_namespace(settings)
        # Printed even when a phase failed: what was measured before it stands.
        print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
