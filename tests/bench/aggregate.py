"""Aggregation benchmark: load N synthetic reports over D days (COPY), then time

- the backfill of every job over all D days (``crashflow aggregate run JOB --from --to``),
- the full daily run of every job for the last day,
- the hourly incremental run (the scheduled run an hour after the last success),
- the ranked top-crashers query (7 days, and a few other shapes),

and print JSON (seconds). Correlations read module lists from HBase: every crash gets
synthetic ones (written straight into the namespace's HBase table, not timed) so that job
does its real reads. Bugzilla is a local server answering with the recorded test JSON.

    .venv/bin/python tests/bench/aggregate.py                 # 1,000,000 reports, 30 days
    .venv/bin/python tests/bench/aggregate.py --count 100000  # quicker

Uses its own namespace (default ``cfaggregatebench``) and drops its database and HBase
tables at the end (``--keep`` keeps them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reportgen  # noqa: E402

from crashflow.aggregation import JOB_NAMES  # noqa: E402
from crashflow.aggregation.runner import run_job  # noqa: E402
from crashflow.api.topcrashers import ranked_top_crashers  # noqa: E402
from crashflow.provision import provision  # noqa: E402
from crashflow.settings import Settings  # noqa: E402
from crashflow.stores import postgres  # noqa: E402
from crashflow.stores.factory import Stores  # noqa: E402
from crashflow.stores.hbase import CRASH_REPORTS, CrashTable  # noqa: E402
from crashflow.stores.layout import hbase_row_key  # noqa: E402

BUGZILLA_ANSWER = (Path(__file__).resolve().parents[1] / "data" / "bugzilla" / "all-with-signatures.json").read_bytes()


def serve_bugzilla() -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = BUGZILLA_ANSWER if "offset=0" in self.path else b'{"bugs": []}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def write_module_lists(settings: Settings, database: postgres.Database, day: dt.date) -> int:
    """Give the day's crashes module and add-on lists in HBase: common modules for all,
    plus one module and add-on that go with their signature (so some correlate)."""
    start = dt.datetime.combine(day, dt.time(), dt.timezone.utc)
    with database.connection() as connection:
        rows = connection.run(
            "SELECT uuid, signature, os_name FROM reports WHERE date_processed >= :start AND date_processed < :end",
            start=start, end=start + dt.timedelta(days=1),
        )
    table = CrashTable(settings)
    with table._connection() as connection, connection.table(CRASH_REPORTS).batch(batch_size=2000) as batch:
        for crash_id, signature, os_name in rows:
            family = zlib.crc32(signature.encode()) % 40
            modules = ["xul.dll", "mozglue.dll", "ntdll.dll", "kernel32.dll", f"driver{family}.dll"]
            addons = [f"addon{family % 7}@example.org"] if family % 3 == 0 else []
            batch.put(hbase_row_key(crash_id), {
                b"ids:ooid": crash_id.encode(),
                b"processed_data:modules": json.dumps(modules).encode(),
                b"processed_data:addons": json.dumps(addons).encode(),
            })
    return len(rows)


def drop_bench_data(settings: Settings) -> None:
    """Drop the bench namespace's database and HBase tables (only those)."""
    admin = postgres.connect(settings, database="postgres")
    admin.run(f"DROP DATABASE IF EXISTS {settings.database} WITH (FORCE)")
    admin.close()
    table = CrashTable(settings)
    with table._connection() as connection:
        for name in connection.tables():  # names without the namespace prefix
            connection.delete_table(name, disable=True)


def backend_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a local Postgres backend (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return round(time.perf_counter() - started, 3), result


def check(run) -> None:
    if run.status != "ok":
        raise SystemExit(f"{run.job} failed: {run.error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--end-date", type=dt.date.fromisoformat, default=dt.date(2026, 11, 25))
    parser.add_argument("--namespace", default=os.environ.get("CRASHFLOW_BENCH_NAMESPACE", "cfaggregatebench"))
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()

    bugzilla = serve_bugzilla()
    settings = Settings(namespace=args.namespace,
                        bugzilla_url=f"http://127.0.0.1:{bugzilla.server_address[1]}/rest/bug")
    admin = postgres.connect(settings, database="postgres")
    admin.run(f"DROP DATABASE IF EXISTS {settings.database} WITH (FORCE)")
    admin.close()
    provision(settings)
    stores = Stores.from_settings(settings, "jobs")
    database = stores.reports
    first_day = args.end_date - dt.timedelta(days=args.days - 1)
    figures: dict = {"reports": args.count, "days": args.days, "load_average_before": os.getloadavg()}
    try:
        figures["load_seconds"], _ = timed(reportgen.load_reports, database, args.count, args.days, args.end_date, 1)
        with database.connection() as connection:
            connection.run("ANALYZE reports")
            figures["reports_last_day"] = connection.run(
                "SELECT count(*) FROM reports WHERE date_processed >= :day", day=args.end_date)[0][0]
        started = time.perf_counter()
        figures["hbase_module_lists_written"] = sum(
            write_module_lists(settings, database, first_day + dt.timedelta(days=n)) for n in range(args.days)
        )
        figures["hbase_write_seconds"] = round(time.perf_counter() - started, 1)

        # The whole backfill, job by job in run order, as `aggregate run JOB --from --to`.
        backfill = {}
        for name in JOB_NAMES:
            seconds, run = timed(run_job, stores, name, first_day, args.end_date)
            check(run)
            backfill[name] = seconds
        backfill["total"] = round(sum(backfill.values()), 3)
        figures["backfill_seconds"] = backfill
        with database.connection() as connection:
            connection.run("ANALYZE")

        # The full daily run of every job for the last day.
        figures["one_day_seconds"] = {}
        for name in JOB_NAMES:
            seconds, run = timed(run_job, stores, name, args.end_date)
            check(run)
            figures["one_day_seconds"][name] = seconds

        # The hourly run: scheduled, an hour after the last success (recomputes the day).
        hour_later = dt.datetime.combine(args.end_date, dt.time(23), dt.timezone.utc)
        figures["hourly_incremental_seconds"] = {}
        for name in JOB_NAMES:
            seconds, run = timed(run_job, stores, name, now=hour_later)
            check(run)
            figures["hourly_incremental_seconds"][name] = seconds
            figures.setdefault("hourly_window", f"{run.start}..{run.end}")

        # The ranked top-crashers query.
        queries = {
            "7_days": {"product": "Firefox", "days": 7},
            "28_days": {"product": "Firefox", "days": 28},
            "7_days_one_version": {"product": "Firefox", "version": "121.0", "days": 7},
            "7_days_windows_content": {"product": "Firefox", "days": 7, "platform": "win", "process_type": "content"},
        }
        figures["top_crashers_query_ms"] = {}
        with database.connection() as connection:
            backend = connection.run("SELECT pg_backend_pid()")[0][0]
            for label, kwargs in queries.items():
                samples = []
                cpu_before = backend_cpu_seconds(backend), time.process_time()
                for _ in range(21):
                    seconds, ranking = timed(ranked_top_crashers, connection, end_date=args.end_date, **kwargs)
                    samples.append(seconds * 1000)
                cpu_after = backend_cpu_seconds(backend), time.process_time()
                assert len(ranking["crashes"]) == 50, label
                figures["top_crashers_query_ms"][label] = {
                    "median": round(statistics.median(samples), 1), "max": round(max(samples), 1),
                    # CPU the Postgres backend and this client spent per query: what the query
                    # costs without the waiting a busy machine adds to the wall time.
                    "cpu_per_query": round(sum(a - b for a, b in zip(cpu_after, cpu_before)) / 21 * 1000, 1),
                }
            figures["rows"] = {
                table: connection.run(f"SELECT count(*) FROM {table}")[0][0]
                for table in ("crashes_per_day", "top_crashers", "top_crashers_by_product", "signatures",
                              "explosiveness", "correlations", "bug_associations")
            }
        figures["load_average_after"] = os.getloadavg()
    finally:
        bugzilla.shutdown()
        if not args.keep:
            drop_bench_data(settings)
    print(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
