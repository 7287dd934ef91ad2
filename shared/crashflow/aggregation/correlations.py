"""Correlations: modules and add-ons that a signature's crashes carry far more often than
the other crashes of the same product and OS (Socorro's "correlations" tab).

For each signature with at least ``correlation_min_crashes`` crashes of one product and OS
in the window (``correlation_window_days`` days ending with the day), a module or add-on is
kept when its share among the signature's crashes exceeds its share among all crashes of
that product and OS by at least ``correlation_min_difference`` (0.05 = 5 points). Both
shares and the counts behind them are stored. Shares count processed crashes only (those
with module lists in HBase); the lists are read with one scan per day rather than a get
per crash. Crashes of one product, OS and signature mostly carry the same lists, so the
scan first counts identical (still JSON-encoded) lists per signature, and each distinct
list is decoded and counted once, weighted by how many crashes carry it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from dataclasses import dataclass

from crashflow.aggregation.jobs import DayJob, JobContext, day_bounds, days

KINDS = ("modules", "addons")
MAX_PER_SIGNATURE = 50  # the strongest correlations of a signature; the rest is noise

# One row per product, OS and signature with its crash ids joined by spaces: far fewer
# rows to decode than one per crash.
WINDOW_SQL = """
SELECT coalesce(product, ''), coalesce(os_name, ''), coalesce(signature, ''), string_agg(uuid, ' ')
FROM reports WHERE date_processed >= :start AND date_processed < :end
GROUP BY 1, 2, 3
"""

INSERT_COLUMNS = ("products", "os_names", "signatures", "kinds", "names", "signature_counts",
                  "signature_shares", "baseline_counts", "baseline_shares")
INSERT_SQL = """
INSERT INTO correlations (report_date, product, os_name, signature, kind, name, signature_count,
                          signature_share, baseline_count, baseline_share)
SELECT :day, * FROM unnest(CAST(:products AS text[]), CAST(:os_names AS text[]),
                           CAST(:signatures AS text[]), CAST(:kinds AS text[]), CAST(:names AS text[]),
                           CAST(:signature_counts AS int[]), CAST(:signature_shares AS real[]),
                           CAST(:baseline_counts AS int[]), CAST(:baseline_shares AS real[]))
"""


@dataclass(frozen=True)
class Correlation:
    name: str
    signature_count: int  # signature crashes carrying it
    signature_share: float  # ... of the signature crashes with a module list
    baseline_count: int
    baseline_share: float


class Shares:
    """How many of ``total`` crashes carry each item, counted crash by crash."""

    def __init__(self):
        self.counts: Counter = Counter()
        self.total = 0

    def add(self, items: list[str], crashes: int = 1) -> None:
        """Count ``crashes`` crashes that each carry ``items`` (an item counts once per crash)."""
        self.counts.update(dict.fromkeys(items, crashes))
        self.total += crashes

    @classmethod
    def of(cls, crashes: list[list[str]]) -> Shares:
        shares = cls()
        for items in crashes:
            shares.add(items)
        return shares

    def share(self, item: str) -> float:
        return self.counts[item] / self.total


def over_represented(signature: Shares, baseline: Shares, min_difference: float) -> list[Correlation]:
    """Items whose share among the signature's crashes beats their share in the baseline by
    ``min_difference`` or more, strongest first (at most ``MAX_PER_SIGNATURE``)."""
    if not signature.total or not baseline.total:
        return []
    found = [
        Correlation(name, count, signature.share(name), baseline.counts[name], baseline.share(name))
        for name, count in signature.counts.items()
        if signature.share(name) - baseline.share(name) >= min_difference - 1e-9
    ]
    found.sort(key=lambda c: (c.baseline_share - c.signature_share, c.name))
    return found[:MAX_PER_SIGNATURE]


class CorrelationsJob(DayJob):
    name = "correlations"
    schedule = "45 * * * *"

    def run_day(self, context: JobContext, day: dt.date) -> int:
        settings, connection = context.settings, context.connection
        first_day = day - dt.timedelta(days=settings.correlation_window_days - 1)
        start, end = day_bounds(first_day)[0], day_bounds(day)[1]
        connection.run("DELETE FROM correlations WHERE report_date = :day", day=day)
        crashes, scored = {}, set()  # crash id -> (product, OS, signature); signatures to score
        for product, os_name, signature, crash_ids in connection.run(WINDOW_SQL, start=start, end=end):
            key, crash_ids = (product, os_name, signature), crash_ids.split(" ")
            crashes.update(dict.fromkeys(crash_ids, key))
            if signature and len(crash_ids) >= settings.correlation_min_crashes:
                scored.add(key)
        if not scored:
            return 0
        groups = {(product, os_name) for product, os_name, _ in scored}
        same_lists = Counter()  # (product, os, signature, modules JSON, addons JSON) -> crashes
        for submitted in days(first_day, day):
            for crash_id, modules, addons in context.stores.records.module_lists_submitted(f"{submitted:%y%m%d}"):
                key = crashes.get(crash_id)
                if key is not None and key[:2] in groups:  # else another day's report, or nothing to compare
                    same_lists[key, modules, addons] += 1
        baselines = defaultdict(lambda: {kind: Shares() for kind in KINDS})
        signatures = defaultdict(lambda: {kind: Shares() for kind in KINDS})
        decoded = {}
        for (key, *encoded), count in same_lists.items():
            for kind, raw in zip(KINDS, encoded):
                items = decoded.get(raw)
                if items is None:
                    items = decoded[raw] = json.loads(raw)
                baselines[key[:2]][kind].add(items, count)
                if key in scored:
                    signatures[key][kind].add(items, count)
        stored = []
        for (product, os_name, signature), shares in sorted(signatures.items()):
            for kind in KINDS:
                for c in over_represented(shares[kind], baselines[product, os_name][kind],
                                          settings.correlation_min_difference):
                    stored.append((product, os_name, signature, kind.rstrip("s"), c.name, c.signature_count,
                                   c.signature_share, c.baseline_count, c.baseline_share))
        if not stored:
            return 0
        connection.run(INSERT_SQL, day=day, **dict(zip(INSERT_COLUMNS, map(list, zip(*stored)))))
        return connection.row_count


CORRELATIONS = CorrelationsJob()
