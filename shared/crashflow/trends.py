"""What changed, computed one way for the alert rules (``crashflow.alerts``) and the overview
endpoints (``crashflow.api.overview``): signatures back after a quiet stretch, and the
defaults that make a signature "explosive" or "back". Read-only SQL over the aggregate
tables; no job code, so the query function imports it as it is."""

from __future__ import annotations

import datetime as dt

# An explosiveness score (one-day or three-day) at or over this marks a signature explosive.
EXPLOSIVE_THRESHOLD = 3.0
# Days without a crash after which a signature's return is a regression.
QUIET_DAYS = 14


def returning_signatures(connection, first_day: dt.date, last_day: dt.date, quiet_days: int, min_crashes: int,
                         where: str = "TRUE", by_version: bool = False, **values) -> list[tuple]:
    """Signatures that crashed between ``first_day`` and ``last_day`` (at least
    ``min_crashes`` times, in the rows ``where`` selects) after at least ``quiet_days``
    days without a crash of their product: (product, signature, crashes, versions they
    came back in, the day they came back, the last day seen before), most crashes first.
    A regression rule asks one day; the ``Regressions`` endpoint a window.

    ``where`` may name ``product``, and ``version`` when ``by_version`` (then the crashes
    are counted in the per-version table). One pass over the window and the quiet days
    before it drops the signatures that crashed within their quiet stretch; the last crash
    before is read backwards from the (product, signature, day) index for the others
    alone, and versions are looked up for the returning signatures alone."""
    table = "top_crashers" if by_version else "top_crashers_by_product"
    rows = connection.run(f"""
        WITH recent AS (
            SELECT product, signature,
                   sum(report_count) FILTER (WHERE report_date >= :first_day) AS crashes,
                   min(report_date) FILTER (WHERE report_date >= :first_day) AS back_on,
                   max(report_date) FILTER (WHERE report_date < :first_day) AS seen_before
            FROM {table}
            WHERE report_date >= CAST(:first_day AS date) - CAST(:quiet_days AS integer)
              AND report_date <= :last_day AND signature <> '' AND {where}
            GROUP BY product, signature
        ), in_window AS (
            -- Crashed in the window, and not within the quiet days before its first crash
            -- there as far as these days tell; the index then finds the last crash before.
            SELECT * FROM recent
            WHERE crashes >= :min_crashes
              AND (seen_before IS NULL OR seen_before < back_on - CAST(:quiet_days AS integer))
        )
        SELECT w.product, w.signature, w.crashes, w.back_on, before.last_seen
        FROM in_window w CROSS JOIN LATERAL (
            SELECT max(report_date) AS last_seen FROM top_crashers_by_product p
            WHERE p.product = w.product AND p.signature = w.signature AND p.report_date < w.back_on
        ) AS before
        WHERE before.last_seen < w.back_on - CAST(:quiet_days AS integer)
        ORDER BY w.product, w.crashes DESC, w.signature
    """, first_day=first_day, last_day=last_day, quiet_days=quiet_days, min_crashes=min_crashes, **values)
    if not rows:
        return []
    versions: dict[tuple[str, str], list[str]] = {}
    for product, signature, version in connection.run(f"""
            SELECT DISTINCT product, signature, version FROM top_crashers
            WHERE report_date >= :since AND report_date <= :last_day AND signature = ANY(:signatures) AND {where}
            ORDER BY version
            """, since=min(row[3] for row in rows), last_day=last_day,
            signatures=sorted({row[1] for row in rows}), **values):
        versions.setdefault((product, signature), []).append(version)
    return [(product, signature, crashes, versions.get((product, signature), []), back_on, last_seen)
            for product, signature, crashes, back_on, last_seen in rows]
