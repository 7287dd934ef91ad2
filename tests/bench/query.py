"""Query API benchmark: latency under 4 concurrent clients, and priority processing.

Loads, in a namespace of its own (dropped at the end): ``--reports`` report rows over 30
days (reportgen's COPY loader), the top-crasher tables built from them by the aggregate
job, and ``--crashes`` synthetic processed crashes written straight into HBase. Then, with
``--clients`` clients at once against a query function served as deployed, measures:

- ProcessedCrash by id (goal p99 <= 20 ms)
- SuperSearch: 7 days, three filters, a signature facet (goal p95 <= 300 ms)
- SuperSearch: a 30-day histogram by day
- TopCrashers (goal p95 <= 50 ms)

and priority processing: a real crash queued behind a ``--backlog`` standard-queue backlog
(which a relay is draining) asked for through ProcessedCrash; the goal is the crash visible
in <= 2 s plus its own stackwalk time.

    .venv/bin/python tests/bench/query.py [--reports 1000000 --crashes 10000 --backlog 10000]

Prints JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from conftest import DATA, FunctionServer, free_port  # noqa: E402
from reportgen import load_reports  # noqa: E402

from crashflow.crashids import create_crash_id  # noqa: E402
from crashflow.provision import provision  # noqa: E402
from crashflow.relay import Relay  # noqa: E402
from crashflow.settings import Settings  # noqa: E402
from crashflow.stores import postgres  # noqa: E402
from crashflow.stores.boto import boto3_client  # noqa: E402
from crashflow.stores.hbase import TABLES, CrashTable  # noqa: E402
from crashflow.stores.postgres import Database  # noqa: E402
from crashflow.stores.s3 import CrashStorage  # noqa: E402
from crashflow.stores.sqs import DEAD_LETTER, QUEUE_KINDS, CrashQueues  # noqa: E402

REPO = HERE.parents[1]
SIGNATURES = [f"mozilla::dom::Frame{n}::Run" for n in range(500)]


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)

    def at(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 2)

    return {"n": len(ordered), "p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 2)}


def synthetic_processed_crash(crash_id: str, rng: random.Random, now: dt.datetime) -> tuple[dict, dict]:
    """A raw and a processed crash shaped like the processor's (about 15 KB of JSON)."""
    modules = [{"filename": f"lib{n}.so", "debug_file": f"lib{n}.so", "debug_id": f"{rng.getrandbits(128):032X}0",
                "base_addr": hex(0x7f0000000000 + n * 0x100000), "end_addr": hex(0x7f0000000000 + n * 0x100000 + 0xfffff),
                "version": "1.0", "loaded_symbols": n % 3 == 0, "missing_symbols": n % 3 != 0} for n in range(40)]
    frames = [{"frame": n, "module": f"lib{n % 40}.so", "function": f"Function{n}(int)", "offset": hex(n * 16),
               "module_offset": hex(n * 64), "trust": "cfi" if n else "context"} for n in range(30)]
    signature = rng.choice(SIGNATURES)
    raw = {"ProductName": "Firefox", "Version": "121.0", "uuid": crash_id, "submitted_timestamp": now.isoformat(),
           "URL": "https://example.com/private", "Email": "someone@example.com"}
    processed = {
        "uuid": crash_id, "crash_id": crash_id, "signature": signature, "proto_signature": signature,
        "product": "Firefox", "version": "121.0", "os_name": "Windows NT", "os_version": "10.0.19045",
        "cpu_arch": "amd64", "date_processed": now.isoformat(), "url": raw["URL"], "email": raw["Email"],
        "success": True, "mdsw_status_string": "OK", "processor_notes": "",
        "json_dump": {"crash_info": {"type": "EXCEPTION_ACCESS_VIOLATION_READ", "address": "0x0",
                                     "crashing_thread": 0},
                      "modules": modules, "threads": [{"frames": frames, "frame_count": len(frames)}],
                      "crashing_thread": {"threads_index": 0, "frames": frames}},
    }
    return raw, processed


def load_crashes(settings: Settings, count: int) -> list[str]:
    table = CrashTable(settings, pool_size=8)
    now = dt.datetime.now(dt.timezone.utc)
    ids = [create_crash_id(now) for _ in range(count)]

    def put(crash_id: str) -> None:
        raw, processed = synthetic_processed_crash(crash_id, random.Random(crash_id), now)
        table.put_processed_crash(crash_id, raw, processed)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, ids))
    return ids


def run_clients(clients: int, requests_per_client: int, make_request) -> dict:
    """``clients`` threads, each with its own HTTP session, each sending its requests in turn."""
    samples: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client_loop(seed: int) -> None:
        session = requests.Session()
        rng = random.Random(seed)
        mine, bad = [], []
        for _ in range(requests_per_client):
            method, url, params = make_request(rng)
            started = time.perf_counter()
            answer = session.request(method, url, params=params, timeout=60)
            elapsed = time.perf_counter() - started
            if answer.status_code == 200:
                mine.append(elapsed)
            else:
                bad.append(f"{answer.status_code}: {answer.text[:200]}")
        with lock:
            samples.extend(mine)
            errors.extend(bad)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client_loop, range(clients)))
    result = percentiles(samples) if samples else {"n": 0}
    if errors:
        result["errors"] = len(errors)
        result["first_error"] = errors[0]
    return result


def fill_backlog(settings: Settings, count: int) -> None:
    """``count`` crash ids in the standard queue (ids of crashes that are not stored)."""
    queues = CrashQueues(settings)
    url = queues.url("standard")
    for start in range(0, count, 10):
        entries = [{"Id": str(n), "MessageBody": create_crash_id()} for n in range(start, min(count, start + 10))]
        queues.sqs.send_message_batch(QueueUrl=url, Entries=entries)


def priority_processing(settings: Settings, query_url: str, tries: int) -> list[dict]:
    """A real crash stored and queued at the back of the backlog, then asked for."""
    storage = CrashStorage(settings)
    queues = CrashQueues(settings)
    dump = (DATA / "minidumps" / "test.dmp").read_bytes()
    results = []
    for _ in range(tries):
        now = dt.datetime.now(dt.timezone.utc)
        crash_id = create_crash_id(now)
        raw = {"ProductName": "Firefox", "Version": "121.0", "uuid": crash_id, "submitted_timestamp": now.isoformat(),
               "version": 2}
        storage.save_raw_crash(crash_id, raw, {"upload_file_minidump": dump})
        queues.publish("standard", crash_id)
        started = time.perf_counter()
        answer = requests.get(f"{query_url}/api/ProcessedCrash/", params={"crash_id": crash_id}, timeout=120)
        while answer.status_code == 202:
            time.sleep(0.2)
            answer = requests.get(f"{query_url}/api/ProcessedCrash/", params={"crash_id": crash_id}, timeout=120)
        visible = time.perf_counter() - started
        processed = answer.json()
        processing = (dt.datetime.fromisoformat(processed["completed_datetime"])
                      - dt.datetime.fromisoformat(processed["started_datetime"])).total_seconds()
        results.append({"status": answer.status_code, "visible_s": round(visible, 3),
                        "processing_s": round(processing, 3), "overhead_s": round(visible - processing, 3),
                        "backlog_left": queues.count("standard")})
    return results


def drop_namespace(settings: Settings) -> list[str]:
    """Remove everything the benchmark created; each store on its own, so one that has
    nothing to drop does not keep the others. Returns what could not be dropped."""
    problems = []

    def step(name, action):
        try:
            action()
        except Exception as error:
            problems.append(f"{name}: {type(error).__name__}: {error}")

    def database():
        admin = postgres.connect(settings, database="postgres")
        try:
            admin.run(f"DROP DATABASE IF EXISTS {settings.database} WITH (FORCE)")
        finally:
            admin.close()

    def hbase_tables():
        with CrashTable(settings).pool.connection() as connection:
            connection.open()
            existing = {name.decode() for name in connection.tables()}
            for name in TABLES:
                if name in existing:
                    connection.delete_table(name, disable=True)

    def buckets():
        s3 = boto3_client(settings, "s3")
        for bucket in (settings.crash_bucket, settings.symbols_bucket):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for item in page.get("Contents", []):
                    s3.delete_object(Bucket=bucket, Key=item["Key"])
            s3.delete_bucket(Bucket=bucket)

    def queues():
        crash_queues = CrashQueues(settings)
        for kind in (*QUEUE_KINDS, DEAD_LETTER):
            crash_queues.sqs.delete_queue(QueueUrl=crash_queues.url(kind))

    for name, action in (("postgres", database), ("hbase", hbase_tables), ("s3", buckets), ("sqs", queues)):
        step(name, action)
    return problems


def drain_until(relay: Relay, stop: threading.Event) -> None:
    while not stop.is_set():
        relay.drain_once(wait_seconds=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespace", default="cfquerybench")
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--crashes", type=int, default=10_000)
    # moto's SQS slows down with every message a queue holds (2.5 s per 10-message batch at
    # 3,400): 10,000 takes about an hour to fill there; real SQS does not care.
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=250, help="per client, for the fast endpoints")
    parser.add_argument("--keep", action="store_true", help="keep the namespace's data afterwards")
    args = parser.parse_args()
    # A SIGTERM (timeout, kill) still stops the servers and drops the data.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    settings = Settings(namespace=args.namespace)
    env = dict(os.environ, CRASHFLOW_NAMESPACE=settings.namespace, CRASHFLOW_API_RATE_LIMIT_PER_MINUTE="0",
               CRASHFLOW_API_TOKEN_RATE_LIMIT_PER_MINUTE="0")
    report: dict = {"namespace": settings.namespace, "reports": args.reports, "crashes": args.crashes,
                    "backlog": args.backlog, "clients": args.clients}
    servers = []
    try:
        drop_namespace(settings)  # what an interrupted run left
        provision(settings)
        database = Database(settings)
        today = dt.datetime.now(dt.timezone.utc).date()
        started = time.perf_counter()
        load_reports(database, args.reports, 30, today, seed=1)
        with database.connection() as connection:
            connection.run("VACUUM ANALYZE reports")  # what autovacuum does after a bulk load
        report["load_reports_s"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        subprocess.run([str(REPO / ".venv" / "bin" / "crashflow"), "aggregate", "run", "top_crashers",
                        "--from", str(today - dt.timedelta(days=29)), "--to", str(today)],
                       env=env, check=True, capture_output=True)
        report["aggregate_s"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        crash_ids = load_crashes(settings, args.crashes)
        report["load_crashes_s"] = round(time.perf_counter() - started, 1)

        process = FunctionServer("process", free_port(), env)
        servers.append(process)
        env["CRASHFLOW_PROCESS_URL"] = process.url
        query = FunctionServer("query", free_port(), env)
        servers.append(query)
        process.wait_ready()
        query.wait_ready()
        base = query.url
        week_ago = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=7)).strftime("%Y-%m-%d %H:%M:%S")
        month_ago = (today - dt.timedelta(days=29)).isoformat()
        requests.get(f"{base}/__heartbeat__", timeout=60)  # builds the API before timing

        report["load_before"] = os.getloadavg()
        report["processed_crash"] = run_clients(args.clients, args.requests, lambda rng: (
            "GET", f"{base}/api/ProcessedCrash/", {"crash_id": rng.choice(crash_ids)}))
        report["supersearch_7d_3_filters_facet"] = run_clients(args.clients, max(10, args.requests // 5), lambda rng: (
            "GET", f"{base}/api/SuperSearch/", [
                ("product", rng.choice(["Firefox", "Thunderbird"])), ("version", rng.choice(["121.0", "115.5.0", "120.0.1"])),
                ("platform", rng.choice(["Windows NT", "Linux", "Mac OS X"])), ("date", f">={week_ago}"),
                ("_facets", "signature")]))
        report["supersearch_30d_histogram"] = run_clients(args.clients, max(5, args.requests // 25), lambda rng: (
            "GET", f"{base}/api/SuperSearch/", [
                ("product", "Firefox"), ("date", f">={month_ago}"), ("_histogram.date", ""), ("_facets", ""),
                ("_results_number", "0")]))
        report["top_crashers"] = run_clients(args.clients, args.requests, lambda rng: (
            "GET", f"{base}/api/TopCrashers/", {"product": rng.choice(["Firefox", "Thunderbird", "Fenix"]),
                                               "days": rng.choice([1, 3, 7, 14, 28])}))
        # TopCrashers as deployed reuses answers for a minute; this is what a miss costs.
        uncached = FunctionServer("query", free_port(), dict(env, CRASHFLOW_API_AGGREGATES_CACHE_SECONDS="0"))
        servers.append(uncached)
        uncached.wait_ready()
        report["top_crashers_uncached"] = run_clients(args.clients, max(10, args.requests // 5), lambda rng: (
            "GET", f"{uncached.url}/api/TopCrashers/", {"product": rng.choice(["Firefox", "Thunderbird", "Fenix"]),
                                                       "days": rng.choice([1, 3, 7, 14, 28])}))
        report["load_after_latency"] = os.getloadavg()

        started = time.perf_counter()
        fill_backlog(settings, args.backlog)
        report["fill_backlog_s"] = round(time.perf_counter() - started, 1)
        relay = Relay(settings.model_copy(update={"process_url": process.url}))
        stop = threading.Event()
        draining = threading.Thread(target=drain_until, args=(relay, stop))
        draining.start()
        try:
            time.sleep(2)  # the relay is busy with the backlog
            report["priority_processing"] = priority_processing(settings, base, tries=3)
        finally:
            stop.set()
            draining.join()
        report["load_end"] = os.getloadavg()
        goals = {
            "processed_crash_p99_ms<=20": report["processed_crash"].get("p99_ms", 1e9) <= 20,
            "supersearch_7d_facet_p95_ms<=300": report["supersearch_7d_3_filters_facet"].get("p95_ms", 1e9) <= 300,
            "top_crashers_p95_ms<=50": report["top_crashers"].get("p95_ms", 1e9) <= 50,
            "priority_overhead_s<=2": all(p["overhead_s"] <= 2 for p in report["priority_processing"]),
        }
        report["goals_met"] = goals
    finally:
        for server in servers:
            server.stop()
        if not args.keep:
            report["cleanup_problems"] = drop_namespace(settings)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
