"""The ranked top-crashers list (Socorro's TCBS view), read from the tables that the
``top_crashers`` job (``crashflow.aggregation.top_crashers``) writes: daily counts, or for the common 7-day ranking of a whole
product, the 7-day sums (two rows per signature instead of fourteen).

A window is ``days`` whole UTC days ending with ``end_date`` (inclusive); the previous
window is the equal stretch just before it. Ranks are by count; equal counts share a rank
(and are listed by signature). ``rank_change`` is previous rank - current rank, or ``"new"``
when the signature did not crash in the previous window.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

WINDOW_DAYS = (1, 3, 7, 14, 28)

# platform name -> the count column that holds it
PLATFORM_COLUMNS = {
    "win": "win_count", "windows": "win_count",
    "mac": "mac_count", "macos": "mac_count", "mac os x": "mac_count",
    "lin": "lin_count", "linux": "lin_count",
    "other": "other_count",
}
# report type -> what the ranking counts (the tables keep every crash and its hangs)
REPORT_TYPE_COUNTS = {"crash": "(report_count - hang_count)", "hang": "hang_count"}


def count_expression(platform_column: str | None, report_type: str | None) -> str:
    """What a ranking counts: every report, one platform's, one report type's, or one
    report type's on one platform (hangs are also kept per platform: ``win_hang_count``)."""
    if not platform_column:
        return REPORT_TYPE_COUNTS[report_type] if report_type else "report_count"
    if not report_type:
        return platform_column
    platform_hangs = platform_column.replace("_count", "_hang_count")
    return platform_hangs if report_type == "hang" else f"({platform_column} - {platform_hangs})"


# {is_current} tells the window's rows from the previous window's; {in_windows} selects both.
RANKED_SQL = """
WITH counts AS (
    SELECT signature,
           sum({count}) FILTER (WHERE {is_current})::bigint AS current,
           sum({count}) FILTER (WHERE NOT ({is_current}))::bigint AS previous,
           sum(win_count) FILTER (WHERE {is_current})::bigint AS win,
           sum(mac_count) FILTER (WHERE {is_current})::bigint AS mac,
           sum(lin_count) FILTER (WHERE {is_current})::bigint AS lin,
           sum(other_count) FILTER (WHERE {is_current})::bigint AS other,
           sum(hang_count) FILTER (WHERE {is_current})::bigint AS hang,
           sum(startup_count) FILTER (WHERE {is_current})::bigint AS startup,
           sum(install_count) FILTER (WHERE {is_current})::bigint AS installs
    FROM {table}
    WHERE product = :product AND {in_windows} {filters}
    GROUP BY signature
), ranked AS (
    SELECT *,
           rank() OVER (ORDER BY current DESC NULLS LAST) AS rank,
           rank() OVER (ORDER BY previous DESC NULLS LAST) AS previous_rank,
           sum(current) OVER ()::bigint AS total,
           sum(previous) OVER ()::bigint AS previous_total,
           count(*) FILTER (WHERE current > 0) OVER () AS signatures
    FROM counts
)
SELECT signature, rank, current, previous, previous_rank, total, previous_total,
       win, mac, lin, other, hang, startup, installs, signatures
FROM ranked
WHERE current > 0
ORDER BY rank, signature
LIMIT :limit
"""
DAILY = {"is_current": "report_date >= :start", "in_windows": "report_date >= :previous_start AND report_date <= :end"}
WEEKLY = {"is_current": "end_date = :end", "in_windows": "end_date IN (:end, :previous_end)"}


def _seven_day_sums_ready(connection, product: str, end: dt.date, previous_end: dt.date) -> bool:
    """Whether the job summed both 7-day windows; if not (daily rows written some other
    way, or a window without crashes), the daily rows give the same answer, only slower."""
    rows = connection.run(
        "SELECT count(DISTINCT end_date) FROM top_crashers_7_days "
        "WHERE product = :product AND end_date IN (:end, :previous_end)",
        product=product, end=end, previous_end=previous_end,
    )
    return rows[0][0] == 2


def _percent(part, whole) -> float | None:
    return round(100.0 * part / whole, 4) if part and whole else None


def _versions(version: str | Sequence[str] | None) -> list[str] | None:
    if version is None or version == "" or version == []:
        return None
    return [version] if isinstance(version, str) else list(version)


def daily_counts(
    connection,
    product: str,
    signatures: Sequence[str],
    start: dt.date,
    end: dt.date,
    versions: Sequence[str] | None = None,
    process_type: str | None = None,
    count_column: str = "report_count",
) -> dict[str, list[int]]:
    """Each of ``signatures``' crashes per day of ``product`` from ``start`` to ``end``
    (every day, zeros included), from the same tables and filters as the ranking."""
    if not signatures:
        return {}
    filters, params = [], {}
    if versions or process_type:
        table = "top_crashers"
        if versions:
            filters.append("AND version = ANY(:versions)")
            params["versions"] = list(versions)
        if process_type:
            filters.append("AND process_type = :process_type")
            params["process_type"] = process_type
    else:
        table = "top_crashers_by_product"
    rows = connection.run(
        f"SELECT signature, report_date, sum({count_column})::bigint FROM {table} "
        f"WHERE product = :product AND report_date >= :start AND report_date <= :end "
        f"AND signature = ANY(:signatures) {' '.join(filters)} GROUP BY 1, 2",
        product=product, start=start, end=end, signatures=list(signatures), **params,
    )
    days = (end - start).days + 1
    counts = {signature: [0] * days for signature in signatures}
    for signature, day, count in rows:
        counts[signature][(day - start).days] = int(count)
    return counts


def signature_facts(connection, signatures: Sequence[str]) -> dict[str, dict]:
    """First seen (the signatures job's) and linked bug ids of each of ``signatures``."""
    facts = {signature: {"first_date": None, "bugs": []} for signature in signatures}
    if not signatures:
        return facts
    for signature, first_date in connection.run(
            "SELECT signature, first_date FROM signatures WHERE signature = ANY(:signatures)",
            signatures=list(signatures)):
        facts[signature]["first_date"] = first_date.isoformat()
    for signature, bug_id in connection.run(
            "SELECT signature, bug_id FROM bug_associations WHERE signature = ANY(:signatures) ORDER BY bug_id",
            signatures=list(signatures)):
        facts[signature]["bugs"].append(bug_id)
    return facts


def ranked_top_crashers(
    connection,
    product: str,
    version: str | Sequence[str] | None = None,
    days: int = 7,
    process_type: str | None = None,
    platform: str | None = None,
    limit: int = 50,
    end_date: dt.date | None = None,
    report_type: str | None = None,
) -> dict:
    """The top ``limit`` signatures of ``product`` (optionally one or several versions, one
    process type, one platform) over ``days`` days ending ``end_date`` (default today, UTC).

    Counts of a platform filter rank by that platform's crashes; hang, startup and install
    counts are then still those of every platform. A report type (``crash`` or ``hang``)
    ranks by those reports alone, on one platform too when both are given. Install counts are the sum of each day's
    distinct installations (an installation crashing on two days counts twice). Each
    signature comes with its crashes per day of the window (``daily``), first seen date
    and linked bugs. ``signatures`` says how many signatures crashed in the window (the
    ranking shows the first ``limit`` of them), ``total`` how many crashes they all had.
    """
    if days not in WINDOW_DAYS:
        raise ValueError(f"days must be one of {', '.join(map(str, WINDOW_DAYS))}, not {days!r}")
    if not product:
        raise ValueError("product is required")
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit!r}")
    if report_type == "any":
        report_type = None
    if report_type and report_type not in REPORT_TYPE_COUNTS:
        raise ValueError(f"unknown report type {report_type!r}; report types: crash, hang, any")
    platform_column = None
    if platform:
        try:
            platform_column = PLATFORM_COLUMNS[platform.lower()]
        except KeyError:
            raise ValueError(f"unknown platform {platform!r}; platforms: win, mac, lin, other") from None
    count_column = count_expression(platform_column, report_type)
    end = end_date or dt.datetime.now(dt.timezone.utc).date()
    start = end - dt.timedelta(days=days - 1)
    previous_start = start - dt.timedelta(days=days)

    versions = _versions(version)
    filters, params = [], {"start": start, "previous_start": previous_start, "previous_end": start - dt.timedelta(days=1)}
    if versions is None and not process_type:
        if days == 7 and _seven_day_sums_ready(connection, product, end, params["previous_end"]):
            table, shape = "top_crashers_7_days", WEEKLY
        else:
            table, shape = "top_crashers_by_product", DAILY
    else:
        table, shape = "top_crashers", DAILY
        if versions is not None:
            filters.append("AND version = ANY(:versions)")
            params["versions"] = versions
        if process_type:
            filters.append("AND process_type = :process_type")
            params["process_type"] = process_type
    rows = connection.run(
        RANKED_SQL.format(count=count_column, table=table, filters=" ".join(filters), **shape),
        product=product, end=end, limit=limit, **params,
    )
    # No row means no crash in the window at all.
    total = int(rows[0][5]) if rows else 0
    signature_count = int(rows[0][14]) if rows else 0
    crashes = []
    for (signature, rank, current, previous, previous_rank, _, previous_total,
         win, mac, lin, other, hang, startup, installs, _) in rows:
        was_there = bool(previous)
        crashes.append({
            "rank": rank,
            "signature": signature,
            "count": int(current),
            "percent_of_total": _percent(current, total),
            "previous_rank": previous_rank if was_there else None,
            "rank_change": previous_rank - rank if was_there else "new",
            "previous_count": int(previous or 0),
            "previous_percent_of_total": _percent(previous, previous_total),
            "win_count": int(win or 0),
            "mac_count": int(mac or 0),
            "lin_count": int(lin or 0),
            "other_count": int(other or 0),
            "hang_count": int(hang or 0),
            "startup_count": int(startup or 0),
            "install_count": int(installs or 0),
        })
    signatures = [crash["signature"] for crash in crashes]
    daily = daily_counts(connection, product, signatures, start, end, versions, process_type, count_column)
    facts = signature_facts(connection, signatures)
    for crash in crashes:
        crash.update(daily=daily[crash["signature"]], first_date=facts[crash["signature"]]["first_date"],
                     bugs=facts[crash["signature"]]["bugs"])
    return {
        "product": product,
        "versions": versions,
        "process_type": process_type,
        "platform": platform,
        "report_type": report_type,
        "days": days,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "total": total,
        # Every signature of the window, of which ``crashes`` holds the top ``limit``.
        "signatures": signature_count,
        "crashes": crashes,
    }

