"""The capacity plan's arithmetic: sizing for a daily crash volume kept for some years, from
measured figures (footprint.py's JSON, and the CPU per crash of process.py and collect.py).

Every input is read from a measurement file or given on the command line, and printed with
the sizing, so docs/capacity.md can name where each number comes from. The few figures that
are not measurements are the constants below, each with its source.

    .venv/bin/python tests/bench/capacity.py docs/measurements/footprint.json \\
        --process-cpu-s 0.30 --collect-cpu-s 0.0054 [--volumes 100000,1000000,3000000 --years 3]

Prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import math

# Not measured here; each from the named source.
HBASE_REGION_BYTES = 10 * 1024**3  # hbase.hregion.max.filesize default (HBase reference guide)
HBASE_REGIONS_PER_SERVER = 100  # the reference guide's advice: about 20-200 regions per server
HDFS_REPLICATION = 3  # dfs.replication default
SALT_BUCKETS = 16  # crashflow's row keys start with one hex digit of the crash id
PEAK_TO_MEAN = 2.0  # assumption: busiest hour at twice the daily mean (set --peak to change)
COLLECT_POD_CPU = 0.5  # services.yaml: collect requests 500m
PROCESS_POD_CPU = 1.0  # services.yaml: process requests 1 CPU, containerConcurrency 1
RELAY_WORKERS = 10  # relay.yaml: --workers 10 (= process max-scale)


def human(value: float, unit: str = "B") -> str:
    for prefix in ("", "K", "M", "G", "T", "P"):
        if abs(value) < 1000 or prefix == "P":
            return f"{value:.1f} {prefix}{unit}" if prefix else f"{value:.0f} {unit}"
        value /= 1000
    return f"{value:.1f} P{unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("footprint", nargs="+",
                        help="footprint.py's JSON output; the crashes of the first, the supersearch phases of all")
    parser.add_argument("--process-cpu-s", type=float, required=True,
                        help="process CPU seconds per crash (process.py, production-sized symbols)")
    parser.add_argument("--collect-cpu-s", type=float, required=True, help="collect CPU seconds per crash")
    parser.add_argument("--volumes", default="100000,1000000,3000000")
    parser.add_argument("--years", type=float, default=3)
    parser.add_argument("--peak", type=float, default=PEAK_TO_MEAN)
    args = parser.parse_args()
    runs = [json.loads(open(path).read()) for path in args.footprint]
    crash = runs[0]["crashes"]["production_shaped"]
    phases = [phase for run in runs for phase in run.get("supersearch", [])]
    largest = max(phases, key=lambda phase: phase["reports"])
    with_aggregates = max((phase for phase in phases if phase.get("aggregate_tables_per_day")),
                          key=lambda phase: phase["reports"])
    days = round(args.years * 365)

    s3_per_crash = crash["s3_bytes_per_crash"]["total"]
    hbase_logical = crash["hbase_keyvalue_bytes_per_crash"]["total"]
    hbase_indexes = hbase_logical - crash["hbase_keyvalue_bytes_per_crash"]["crash_reports"]["total"]
    hbase_deflated = crash["hbase_crash_row_deflated_bytes"] + hbase_indexes
    report_row = largest["reports_bytes_per_row"]
    aggregates_per_day = sum(table["bytes_per_day"] for table in with_aggregates["aggregate_tables_per_day"].values())
    aggregate_reports_per_day = with_aggregates["reports"] / 30
    # The generated rows fill fewer columns than processed crashes: add the datum difference.
    report_row += max(0.0, crash["postgres_report_row_datum_bytes"] - largest["reports_row_datum_bytes"])

    print(f"Inputs: S3 {s3_per_crash:.0f} B/crash, HBase {hbase_logical:.0f} B/crash as KeyValues "
          f"({hbase_deflated:.0f} B deflated), reports row {report_row:.0f} B with indexes, aggregate tables "
          f"{aggregates_per_day:.0f} B/day at {aggregate_reports_per_day:.0f} reports/day, process "
          f"{args.process_cpu_s} CPU s/crash, collect {args.collect_cpu_s} CPU s/crash, peak {args.peak}x mean, "
          f"{days} days kept.\n")
    print("| | " + " | ".join(f"{int(v):,}/day" for v in map(int, args.volumes.split(","))) + " |")
    print("|---|" + "---|" * len(args.volumes.split(",")))
    rows: dict[str, list[str]] = {}
    for volume in map(int, args.volumes.split(",")):
        kept = volume * days
        mean_rate = volume / 86400
        peak_rate = mean_rate * args.peak
        hbase_bytes = kept * hbase_logical
        regions = hbase_bytes / HBASE_REGION_BYTES
        values = {
            "crashes kept": f"{kept / 1e9:.2f} G" if kept >= 1e9 else f"{kept / 1e6:.0f} M",
            "mean / peak crashes per second": f"{mean_rate:.1f} / {peak_rate:.1f}",
            "S3 (raw crashes and dumps)": human(kept * s3_per_crash),
            "HBase, cells as written (uncompressed)": human(hbase_bytes),
            "HBase, deflated, x3 HDFS replicas": human(kept * hbase_deflated * HDFS_REPLICATION),
            "HBase regions (10 GiB each, uncompressed)": f"{math.ceil(regions):,}",
            "HBase region servers (100 regions each; 16 write hot spots)":
                f"{max(3, math.ceil(regions / HBASE_REGIONS_PER_SERVER))}",
            "Postgres reports (rows, indexes, TOAST)": human(kept * report_row),
            "Postgres weekly reports partition": human(7 * volume * report_row),
            "Postgres aggregate tables (at the measured per-day size)": human(days * aggregates_per_day),
            "collect CPU at peak (cores) / pods of 500m": (
                f"{peak_rate * args.collect_cpu_s:.2f} / {max(2, math.ceil(peak_rate * args.collect_cpu_s / COLLECT_POD_CPU))}"),
            "process CPU at peak (cores) / pods (1 crash each)": (
                f"{peak_rate * args.process_cpu_s:.1f} / {max(1, math.ceil(peak_rate * args.process_cpu_s / PROCESS_POD_CPU))}"),
            "relay deliveries needed at once (peak x walk time)": f"{peak_rate * args.process_cpu_s:.1f} (relay.yaml: {RELAY_WORKERS})",
            "SQS requests per second at peak (publish, receive, delete; batches of 10)": f"{peak_rate * 3 / 10:.1f}",
        }
        for name, value in values.items():
            rows.setdefault(name, []).append(value)
    for name, values in rows.items():
        print(f"| {name} | " + " | ".join(values) + " |")


if __name__ == "__main__":
    main()
