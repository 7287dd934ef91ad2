"""Correlations: modules and add-ons that a signature's crashes carry far more often than
the other crashes of the same product and OS (Socorro's "correlations" tab).

For each signature with at least ``correlation_min_crashes`` crashes of one product and OS
in the window (``correlation_window_days`` days ending with the day), a module or add-on is
kept when its share among the signature's crashes exceeds its share among all crashes of
that product and OS by at least ``correlation_min_difference`` (0.05 = 5 points). Both
shares and the counts behind them are stored. Shares count processed crashes only (those
with module lists in HBase); the lists are read with one scan per day rather than a get
per crash, and counted as they stream by.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

from crashflow.aggregation.jobs import DayJob, JobContext, day_bounds, days

KINDS = ("modules", "addons")
MAX_PER_SIGNATURE = 50  # the strongest correlations of a signature; the rest is noise

WINDOW_SQL = """
SELECT uuid, coalesce(product, ''), coalesce(os_name, ''), coalesce(signature, '')
FROM reports WHERE date_processed >= :start AND date_processed < :end
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

    def add(self, items: list[str]) -> None:
        self.counts.update(set(items))  # an item counts once per crash
        self.total += 1

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

    def run_day(self, context: JobContext, day: dt.date) -> int:
        settings, connection = context.settings, context.connection
        first_day = day - dt.timedelta(days=settings.correlation_window_days - 1)
        start, end = day_bounds(first_day)[0], day_bounds(day)[1]
        connection.run("DELETE FROM correlations WHERE report_date = :day", day=day)
        crashes = {crash_id: (product, os_name, signature)
                   for crash_id, product, os_name, signature in connection.run(WINDOW_SQL, start=start, end=end)}
        per_signature = Counter(key for key in crashes.values() if key[2])
        scored = {key for key, count in per_signature.items() if count >= settings.correlation_min_crashes}
        if not scored:
            return 0
        groups = {(product, os_name) for product, os_name, _ in scored}
        baselines = defaultdict(lambda: {kind: Shares() for kind in KINDS})
        signatures = defaultdict(lambda: {kind: Shares() for kind in KINDS})
        for submitted in days(first_day, day):
            for crash_id, modules, addons in context.crash_table.modules_and_addons_submitted(f"{submitted:%y%m%d}"):
                key = crashes.get(crash_id)
                if key is None or key[:2] not in groups:
                    continue  # another day's report (submitted near midnight), or nothing to compare
                for kind, items in (("modules", modules), ("addons", addons)):
                    baselines[key[:2]][kind].add(items)
                    if key in scored:
                        signatures[key][kind].add(items)
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
