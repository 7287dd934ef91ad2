"""Report row writes: what the indexes on ``reports`` cost every processed crash.

In a database of its own (dropped at the end), loads ``--prefill`` reportgen rows over 30
days (COPY, then VACUUM ANALYZE, as a running site's table is), then writes passes of
``--rows`` new rows one at a time through ``Database.upsert_report`` -- the processor's
own statement (a prepared ``INSERT ... ON CONFLICT``, autocommit) on one connection:

- with every index the migrations made;
- without each index named in ``--without`` (dropped before that pass);
- with every index again (recreated), so that a drift of the machine shows.

It reports each index's bytes per row, and for each pass the wall time per row (p50, p95,
mean), the Postgres backend's CPU per row (from ``/proc`` of ``pg_backend_pid()``: the
server must run on this machine) and the WAL bytes per row.

    .venv/bin/python tests/bench/report_writes.py [--prefill 300000 --rows 5000 \
        --without reports_signature_date]

Prints JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from reportgen import COLUMNS, generate_rows, load_reports  # noqa: E402

from crashflow.settings import Settings  # noqa: E402
from crashflow.stores import postgres  # noqa: E402
from crashflow.stores.postgres import Database  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu_seconds(pid: int) -> float:
    """User + system CPU of one server process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14, 15)


def drop_database(settings: Settings) -> None:
    admin = postgres.connect(settings, database="postgres")
    try:
        admin.run(f"DROP DATABASE IF EXISTS {settings.database} WITH (FORCE)")
    finally:
        admin.close()


def index_definitions(database: Database, names: list[str]) -> dict[str, str]:
    with database.connection() as connection:
        rows = connection.run("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'reports' "
                              "AND indexname = ANY(:names)", names=names)
    found = dict(rows)
    missing = [name for name in names if name not in found]
    if missing:
        raise SystemExit(f"no index {', '.join(missing)} on reports")
    return found


def write_pass(database: Database, rows: list[tuple]) -> dict:
    """Write ``rows`` one at a time, as the processor does."""
    with database.connection() as connection:
        pid = connection.run("SELECT pg_backend_pid()")[0][0]
        wal_before = connection.run("SELECT pg_current_wal_lsn()")[0][0]
    cpu_before = backend_cpu_seconds(pid)
    samples = []
    for row in rows:
        started = time.perf_counter()
        database.upsert_report(dict(zip(COLUMNS, row)))
        samples.append(time.perf_counter() - started)
    cpu = backend_cpu_seconds(pid) - cpu_before
    with database.connection() as connection:
        wal = connection.run("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), :before)", before=wal_before)[0][0]
    ordered = sorted(samples)
    return {
        "rows": len(rows),
        "p50_ms": round(ordered[len(ordered) // 2] * 1000, 3),
        "p95_ms": round(ordered[int(len(ordered) * 0.95)] * 1000, 3),
        "mean_ms": round(statistics.fmean(samples) * 1000, 3),
        "server_cpu_us_per_row": round(cpu / len(rows) * 1e6, 1),
        "wal_bytes_per_row": round(float(wal) / len(rows)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespace", default="cfreportwrites")
    parser.add_argument("--prefill", type=int, default=300_000)
    parser.add_argument("--rows", type=int, default=5000, help="rows written by each pass")
    parser.add_argument("--without", default="reports_signature_date",
                        help="indexes (comma-separated) whose cost is measured, each by a pass without it")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    settings = Settings(namespace=args.namespace)
    without = [name for name in args.without.split(",") if name]
    today = dt.datetime.now(dt.timezone.utc).date()
    report: dict = {"namespace": settings.namespace, "prefill": args.prefill, "passes": []}
    # One connection: every statement goes to the backend whose CPU is read.
    database = Database(settings, size=1)
    try:
        drop_database(settings)  # what an interrupted run left
        postgres.upgrade(settings)
        load_reports(database, args.prefill, 30, today, seed=1)
        with database.connection() as connection:
            connection.run("VACUUM ANALYZE reports")
        definitions = index_definitions(database, without)
        with database.connection() as connection:
            # Each index's bytes per prefilled row (its partitions' sizes added up).
            report["index_bytes_per_row"] = {name: round(size / args.prefill) for name, size in connection.run(
                "SELECT indexname, (SELECT sum(pg_relation_size(relid)) FROM pg_partition_tree(indexname::regclass)) "
                "FROM pg_indexes WHERE tablename = 'reports' ORDER BY 1")}
        # New rows of today (fresh ids: every pass inserts, none updates).
        plans = [("every index", None)] + [(f"without {name}", name) for name in without] + [("every index again", None)]
        report["load_before"] = os.getloadavg()
        for seed, (label, dropped) in enumerate(plans, start=100):
            rows = list(generate_rows(args.rows, 1, today, seed=seed))
            if dropped:
                with database.connection() as connection:
                    connection.run(f"DROP INDEX {dropped}")
            result = write_pass(database, rows)
            if dropped:
                with database.connection() as connection:
                    connection.run(definitions[dropped])
            report["passes"].append({"pass": label, **result})
        report["load_after"] = os.getloadavg()
    finally:
        drop_database(settings)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
