"""Synthetic ``reports`` rows, bulk-loaded with COPY, for benchmarks.

The same seed gives the same rows. Distributions are loosely like a desktop browser's:
Zipf-like signatures (a few crash a lot, most rarely), three products with a few versions
each, mostly Windows, a hang share, several process types, and about four crashes per
installation with one install time in five unknown.

    from reportgen import load_reports
    load_reports(database, count=1_000_000, days=30, end_date=dt.date(2026, 11, 25), seed=1)

Run alone: ``.venv/bin/python tests/bench/reportgen.py --count 100000 --days 30`` loads into
the namespace in ``CRASHFLOW_NAMESPACE`` (the database must exist: ``crashflow setup``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import random
import time
from collections.abc import Iterator

# The columns written, in COPY order.
COLUMNS = (
    "uuid", "date_processed", "client_crash_date", "product", "version", "major_version",
    "build", "release_channel", "signature", "os_name", "os_version", "cpu_arch", "uptime",
    "install_age", "install_time", "process_type", "report_type", "hangid", "success",
)

# product -> [(version, build id, channel, weight)]
PRODUCTS = {
    "Firefox": [
        ("122.0b3", "20261120091500", "beta", 10),
        ("121.0", "20261101120000", "release", 60),
        ("120.0.1", "20261015080000", "release", 25),
        ("123.0a1", "20261124030000", "nightly", 5),
    ],
    "Thunderbird": [("115.5.0", "20261028100000", "release", 80), ("121.0b1", "20261118100000", "beta", 20)],
    "Fenix": [("121.1.0", "20261110140000", "release", 100)],
}
PRODUCT_WEIGHTS = {"Firefox": 70, "Thunderbird": 20, "Fenix": 10}
DESKTOP_OSES = [
    ("Windows NT", "10.0.19045", "amd64", 70),
    ("Mac OS X", "14.1.1", "arm64", 15),
    ("Linux", "6.5.0", "amd64", 13),
    ("FreeBSD", "14.0", "amd64", 2),
]
ANDROID = ("Android", "34", "arm64", 1)
PROCESS_TYPES = [("parent", 60), ("content", 30), ("gpu", 8), ("utility", 2)]
HANG_SHARE = 0.05
MODULES = ["xul.dll", "mozglue.dll", "ntdll.dll", "kernelbase.dll", "libxul.so", "libc.so.6", "XUL", "nvwgf2umx.dll"]


def signature_names(count: int) -> list[str]:
    """``count`` distinct, plausible signature strings; the first is the most common."""
    return [f"{MODULES[i % len(MODULES)]}@0x{(i * 7919) % 0xFFFFF:x} | Frame{i}::Run" for i in range(count)]


def zipf_weights(count: int, exponent: float = 1.1) -> list[float]:
    return [1.0 / (rank ** exponent) for rank in range(1, count + 1)]


def _random_uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"


def _crash_id(rng: random.Random, day: dt.date) -> str:
    """A crash id (throttle digit 0) submitted on ``day``."""
    return f"{_random_uuid(rng)[:-7]}0{day:%y%m%d}"


def _builds() -> tuple[list[tuple], list[float]]:
    """Every (product, version, build, channel, OS) with its joint weight."""
    combinations, weights = [], []
    for product, versions in PRODUCTS.items():
        version_total = sum(v[3] for v in versions)
        oses = [ANDROID] if product == "Fenix" else DESKTOP_OSES
        os_total = sum(o[3] for o in oses)
        for version, build, channel, version_weight in versions:
            for os_name, os_version, cpu_arch, os_weight in oses:
                combinations.append((product, version, int(version.split(".")[0]), build, channel,
                                     os_name, os_version, cpu_arch))
                weights.append(PRODUCT_WEIGHTS[product] * version_weight / version_total * os_weight / os_total)
    return combinations, weights


def generate_rows(
    count: int, days: int, end_date: dt.date, seed: int = 0, signatures: int = 5000
) -> Iterator[tuple]:
    """``count`` report rows spread evenly over the ``days`` days ending ``end_date``, in
    time order."""
    rng = random.Random(seed)
    first_day = end_date - dt.timedelta(days=days - 1)
    epoch = dt.datetime.combine(first_day, dt.time(), dt.timezone.utc)
    chosen_signatures = rng.choices(signature_names(signatures), weights=zipf_weights(signatures), k=count)
    combinations, weights = _builds()
    chosen_builds = rng.choices(combinations, weights=weights, k=count)
    chosen_processes = rng.choices([p[0] for p in PROCESS_TYPES], weights=[p[1] for p in PROCESS_TYPES], k=count)
    start_ts = int(epoch.timestamp())
    install_times = [start_ts - rng.randint(0, 90 * 86400) for _ in range(max(1, count // 4))]
    spacing = days * 86400 / count
    for index in range(count):
        product, version, major, build, channel, os_name, os_version, cpu_arch = chosen_builds[index]
        offset = int(index * spacing + rng.random() * spacing)
        date_processed = epoch + dt.timedelta(seconds=offset)
        is_hang = rng.random() < HANG_SHARE
        install_time = rng.choice(install_times) if rng.random() < 0.8 else None
        yield (
            _crash_id(rng, date_processed.date()),
            date_processed,
            date_processed - dt.timedelta(seconds=rng.randrange(600)),
            product,
            version,
            major,
            build,
            channel,
            chosen_signatures[index],
            os_name,
            os_version,
            cpu_arch,
            rng.randrange(1, 86400),
            None if install_time is None else start_ts + offset - install_time,
            install_time,
            chosen_processes[index],
            "hang" if is_hang else "crash",
            _random_uuid(rng) if is_hang else None,
            True,
        )


def _copy_text(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _chunks(rows: Iterator[tuple], size: int = 5000) -> Iterator[str]:
    while batch := list(itertools.islice(rows, size)):
        yield "".join("\t".join(map(_copy_text, row)) + "\n" for row in batch)


def copy_rows(database, rows) -> int:
    """COPY ``rows`` (tuples in ``COLUMNS`` order) into ``reports``; creates the weekly
    partitions they need first. Returns the number of rows."""
    rows = list(rows)
    for day in sorted({row[1].date() for row in rows}):
        database.ensure_report_partition(day)
    with database.connection() as connection:
        connection.run(f"COPY reports ({', '.join(COLUMNS)}) FROM STDIN", stream=_chunks(iter(rows)))
    return len(rows)


def load_reports(
    database, count: int, days: int, end_date: dt.date, seed: int = 0, signatures: int = 5000
) -> int:
    """Generate and COPY ``count`` reports over ``days`` days ending ``end_date``, one day's
    rows at a time in memory."""
    first_day = end_date - dt.timedelta(days=days - 1)
    for week in range(0, days + 7, 7):
        database.ensure_report_partition(first_day + dt.timedelta(days=week))
    database.ensure_report_partition(end_date)
    with database.connection() as connection:
        connection.run(
            f"COPY reports ({', '.join(COLUMNS)}) FROM STDIN",
            stream=_chunks(generate_rows(count, days, end_date, seed, signatures)),
        )
    return count


def main() -> None:
    from crashflow.settings import get_settings
    from crashflow.stores.postgres import Database

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--end-date", type=dt.date.fromisoformat,
                        default=dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--signatures", type=int, default=5000)
    args = parser.parse_args()
    started = time.perf_counter()
    loaded = load_reports(Database(get_settings()), args.count, args.days, args.end_date, args.seed, args.signatures)
    print(json.dumps({"reports": loaded, "seconds": round(time.perf_counter() - started, 2)}))


if __name__ == "__main__":
    main()
