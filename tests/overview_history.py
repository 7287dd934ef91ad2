"""A product's crash history for the overview tests: report rows written straight into the
test namespace's ``reports`` (crashflow's own Postgres store) over the last four weeks,
then the aggregation jobs run over those days, as they would have run each day.

The history, for product P and today T:

- ``steady``: 2 crashes a day of version 1.0 for the last 14 days, from one installation
  (the only crashes that carry an install time);
- ``fresh``: never seen before, 40 crashes of version 2.0 today on Linux (new, and
  explosive), the first 10 of them startup crashes (uptime 5 s);
- ``back``: 3 crashes of version 1.0 on T-20, none since, 2 hangs of version 2.1 on T-1
  (a regression: back after 18 quiet days, in 2.1);
- ``older``: 1 crash of version 0.9 on T-27 (outside every window but the 28 days).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from dataclasses import dataclass, field

from crashflow.aggregation.runner import run_job
from crashflow.crashids import create_crash_id
from crashflow.stores.factory import Stores

UTC = dt.timezone.utc
JOBS = ("crashes_per_day", "top_crashers", "signatures", "explosiveness")
INSTALL_TIME = 1_700_000_000  # the steady signature's one installation


@dataclass
class History:
    product: str
    today: dt.date
    signatures: dict[str, str]
    rows: list[dict] = field(default_factory=list)

    def per_day(self, days: int) -> dict[str, int]:
        """Crashes per day of the last ``days`` days (every day, zeros included)."""
        start = self.today - dt.timedelta(days=days - 1)
        counts = Counter(row["date_processed"].date() for row in self.rows
                         if start <= row["date_processed"].date() <= self.today)
        return {(start + dt.timedelta(days=n)).isoformat(): counts.get(start + dt.timedelta(days=n), 0)
                for n in range(days)}

    def per_signature(self, days: int) -> dict[str, int]:
        start = self.today - dt.timedelta(days=days - 1)
        return dict(Counter(row["signature"] for row in self.rows
                            if start <= row["date_processed"].date() <= self.today))


def record_run(connection, job: str) -> None:
    """Record a finished run of ``job``, as the runner does, after a test wrote that job's
    table itself: the overview's answers are named by the runs they come from
    (``crashflow.api.answers``), and only a run tells them the table changed."""
    connection.run("INSERT INTO job_runs (job, window_start, window_end, finished, status) "
                   "VALUES (:job, current_date, current_date, now(), 'ok')", job=job)


def crash_rows(day: dt.date, product: str, signature: str, count: int, version: str,
               platform: str = "Windows NT", report_type: str = "crash", uptime: int | None = None,
               install_time: int | None = None) -> list[dict]:
    rows = []
    for n in range(count):
        # Mid-day, one second apart: well inside the UTC day whatever the time zone of the test.
        when = dt.datetime.combine(day, dt.time(9, 0), UTC) + dt.timedelta(seconds=n)
        rows.append({"uuid": create_crash_id(when), "date_processed": when, "product": product, "version": version,
                     "release_channel": "release", "os_name": platform, "process_type": "parent",
                     "report_type": report_type, "build": "20261101000000", "signature": signature,
                     "uptime": uptime, "install_time": install_time})
    return rows


def build_history(settings, label: str) -> History:
    """Write the history of a product of its own and run the jobs over the last 28 days."""
    stamp = f"{int(time.time() * 1000)}"
    product = f"{label}{stamp}"
    today = dt.datetime.now(UTC).date()
    signatures = {"steady": f"ui::steady::{stamp}", "fresh": f"ui::fresh::{stamp}",
                  "back": f"ui::back::{stamp}", "older": f"ui::older::{stamp}"}
    history = History(product, today, signatures)
    for n in range(14):
        history.rows += crash_rows(today - dt.timedelta(days=n), product, signatures["steady"], 2, "1.0",
                                   install_time=INSTALL_TIME)
    history.rows += crash_rows(today, product, signatures["fresh"], 10, "2.0", platform="Linux", uptime=5)
    history.rows += crash_rows(today, product, signatures["fresh"], 30, "2.0", platform="Linux", uptime=3600)
    history.rows += crash_rows(today - dt.timedelta(days=20), product, signatures["back"], 3, "1.0")
    history.rows += crash_rows(today - dt.timedelta(days=1), product, signatures["back"], 2, "2.1",
                               report_type="hang")
    history.rows += crash_rows(today - dt.timedelta(days=27), product, signatures["older"], 1, "0.9")
    stores = Stores.from_settings(settings, "jobs")
    for row in history.rows:
        stores.reports.upsert_report(row)
    for job in JOBS:
        run = run_job(stores, job, today - dt.timedelta(days=30), today)
        assert (run.status, run.error) == ("ok", None), job
    return history


def build_many_signatures(settings, label: str, count: int) -> tuple[str, dict[str, int]]:
    """A product of its own with ``count`` signatures crashing today (signature n: n % 3 + 1
    crashes; each a long one, of several frames), the jobs run over today; (product,
    crashes by signature)."""
    stamp = f"{int(time.time() * 1000)}"
    product = f"{label}{stamp}"
    today = dt.datetime.now(UTC).date()
    crashes = {}
    stores = Stores.from_settings(settings, "jobs")
    for n in range(count):
        signature = f"mozglue.dll@0x{n:04x}{stamp[-4:]} | xul.dll@0x1eef{n:02d} | Frame{n}::RunEventLoop | kernelbase.dll@0x5ccd"
        crashes[signature] = n % 3 + 1
        for row in crash_rows(today, product, signature, crashes[signature], "1.0"):
            stores.reports.upsert_report(row)
    for job in JOBS:
        run = run_job(stores, job, today, today)
        assert (run.status, run.error) == ("ok", None), job
    return product, crashes
