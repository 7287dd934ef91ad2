"""The numbers behind the UI's charts: every day of a window (days without crashes are zeros,
not gaps), one series per top version and the rest summed. Templates draw them as a table
(``macros.html``: ``version_chart``) that the browser script turns into a uPlot chart."""

from __future__ import annotations

import datetime as dt

from crashflow.api.overview import version_key

GRAPH_VERSIONS = 5  # lines of their own; the rest are summed as "other versions"


def version_series(start: dt.date, end: dt.date, totals: dict, by_version: dict, top: list[str]) -> dict:
    """Rows of (day, a count per version of ``top``, the rest, the total) for every day from
    ``start`` to ``end``; ``totals`` and ``by_version`` are keyed by day (missing: zero)."""
    days = [start + dt.timedelta(days=n) for n in range((end - start).days + 1)] if start <= end else []
    rows = []
    for day in days:
        versions = by_version.get(day, {})
        total = totals.get(day, 0)
        counts = [versions.get(version, 0) for version in top]
        rows.append({"day": day.isoformat(), "counts": counts, "other": total - sum(counts), "total": total})
    return {"versions": list(top), "rows": rows, "has_other": any(row["other"] for row in rows)}


def top_versions(counts: dict[str, int], size: int = GRAPH_VERSIONS) -> list[str]:
    """The ``size`` versions with the most crashes (of equal counts, the newer first)."""
    newest_first = sorted(counts, key=version_key, reverse=True)
    return sorted(newest_first, key=lambda version: -counts[version])[:size]
