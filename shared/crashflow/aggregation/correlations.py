"""Correlations: modules and add-ons that a signature's crashes carry far more often than
the other crashes of the same product and OS (Socorro's "correlations" tab).

For each signature with at least ``correlation_min_crashes`` crashes of one product and OS
in the window (``correlation_window_days`` days ending with the day), a module or add-on is
kept when its share among the signature's crashes exceeds its share among all crashes of
that product and OS by at least ``correlation_min_difference`` (0.05 = 5 points). Both
shares and the counts behind them are stored. Module and add-on lists come from HBase;
crashes are sampled (lowest crash ids first, which are random) up to
``correlation_signature_sample`` per signature and ``correlation_baseline_sample`` per
product and OS, so a day costs a bounded number of HBase reads.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

from crashflow.aggregation.jobs import DayJob, JobContext, day_bounds

KINDS = ("modules", "addons")
MAX_PER_SIGNATURE = 50  # the strongest correlations of a signature; the rest is noise

SAMPLE_SQL = """
WITH window_reports AS (
    -- Byte order ("C"): sorting a day of signatures by the database's locale is slow.
    SELECT uuid COLLATE "C" AS uuid, coalesce(product, '') COLLATE "C" AS product,
           coalesce(os_name, '') COLLATE "C" AS os_name, coalesce(signature, '') COLLATE "C" AS signature
    FROM reports WHERE date_processed >= :start AND date_processed < :end
), qualifying AS (
    SELECT product, os_name, signature FROM window_reports WHERE signature <> ''
    GROUP BY product, os_name, signature HAVING count(*) >= :min_crashes
), ranked AS (
    SELECT r.uuid, r.product, r.os_name, r.signature, q.signature IS NOT NULL AS qualifies,
           row_number() OVER (PARTITION BY r.product, r.os_name ORDER BY r.uuid) AS baseline_rank,
           row_number() OVER (PARTITION BY r.product, r.os_name, r.signature ORDER BY r.uuid) AS signature_rank
    FROM window_reports r LEFT JOIN qualifying q USING (product, os_name, signature)
    WHERE (r.product, r.os_name) IN (SELECT product, os_name FROM qualifying)
)
SELECT uuid, product, os_name, signature,
       baseline_rank <= :baseline_sample, qualifies AND signature_rank <= :signature_sample
FROM ranked
WHERE baseline_rank <= :baseline_sample OR (qualifies AND signature_rank <= :signature_sample)
"""

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


def over_represented(
    signature_crashes: list[set[str]], baseline_crashes: list[set[str]], min_difference: float
) -> list[Correlation]:
    """Items whose share in ``signature_crashes`` beats their share in ``baseline_crashes``
    by ``min_difference`` or more, strongest first. Each crash is the set of its items."""
    if not signature_crashes or not baseline_crashes:
        return []
    in_signature = Counter(item for items in signature_crashes for item in items)
    in_baseline = Counter(item for items in baseline_crashes for item in items)
    found = []
    for name, count in in_signature.items():
        share = count / len(signature_crashes)
        baseline_share = in_baseline[name] / len(baseline_crashes)
        if share - baseline_share >= min_difference - 1e-9:
            found.append(Correlation(name, count, share, in_baseline[name], baseline_share))
    found.sort(key=lambda c: (c.baseline_share - c.signature_share, c.name))
    return found[:MAX_PER_SIGNATURE]


class CorrelationsJob(DayJob):
    name = "correlations"

    def run_day(self, context: JobContext, day: dt.date) -> int:
        settings, connection = context.settings, context.connection
        first_day = day - dt.timedelta(days=settings.correlation_window_days - 1)
        start, end = day_bounds(first_day)[0], day_bounds(day)[1]
        connection.run("DELETE FROM correlations WHERE report_date = :day", day=day)
        rows = connection.run(
            SAMPLE_SQL, start=start, end=end, min_crashes=settings.correlation_min_crashes,
            baseline_sample=settings.correlation_baseline_sample,
            signature_sample=settings.correlation_signature_sample,
        )
        if not rows:
            return 0
        found = context.crash_table.modules_and_addons([row[0] for row in rows])
        baselines: dict[tuple, list[dict]] = defaultdict(list)
        signatures: dict[tuple, list[dict]] = defaultdict(list)
        for crash_id, product, os_name, signature, in_baseline, in_signature in rows:
            lists = found.get(crash_id)
            if lists is None:
                continue  # not processed (yet), or processed before module lists were kept
            if in_baseline:
                baselines[product, os_name].append(lists)
            if in_signature:
                signatures[product, os_name, signature].append(lists)
        columns = defaultdict(list)
        for (product, os_name, signature), crashes in sorted(signatures.items()):
            for kind in KINDS:
                for correlation in over_represented(
                    [set(crash[kind]) for crash in crashes],
                    [set(crash[kind]) for crash in baselines[product, os_name]],
                    settings.correlation_min_difference,
                ):
                    for column, value in (
                        ("products", product), ("os_names", os_name), ("signatures", signature),
                        ("kinds", kind.rstrip("s")), ("names", correlation.name),
                        ("signature_counts", correlation.signature_count),
                        ("signature_shares", correlation.signature_share),
                        ("baseline_counts", correlation.baseline_count),
                        ("baseline_shares", correlation.baseline_share),
                    ):
                        columns[column].append(value)
        if not columns:
            return 0
        connection.run(INSERT_SQL, day=day, **columns)
        return connection.row_count


CORRELATIONS = CorrelationsJob()
