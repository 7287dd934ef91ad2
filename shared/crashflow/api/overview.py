"""Endpoints for "what changed?", over the tables the aggregation jobs write:

- ``Products``: every product with crashes in the last ``days`` days, its crashes per day
  (every day, zeros included) and its versions, newest first (``crashes_per_day``);
- ``NewSignatures``: a product's signatures first seen in the window (``signatures``, with
  their counts from ``top_crashers_by_product``);
- ``ExplosiveSignatures``: a product's signatures the explosiveness job scored at or over a
  threshold in the window (``explosiveness``);
- ``Regressions``: a product's signatures back after at least ``quiet_days`` days without a
  crash, with the versions they came back in: the regression alert rule's own computation
  (``crashflow.alerts.evaluate.returning_signatures``).

A window is ``days`` whole UTC days ending today (or ``end_date``), the end day included.
"""

from __future__ import annotations

import datetime as dt
import re

from crashflow.api.aggregates import product_params
from crashflow.api.calls import Call, Reply, check_known_params, date_param, int_param, today
from crashflow.api.errors import BadRequest
from crashflow.api.topcrashers import daily_counts
from crashflow.trends import EXPLOSIVE_THRESHOLD, QUIET_DAYS, returning_signatures

OVERVIEW_DAYS = (1, 3, 7, 14, 28)
MAX_RESULTS = 200
DEFAULT_RESULTS = 20


def window(params) -> tuple[dt.date, dt.date]:
    """(first day, last day) of the window ``days`` (and ``end_date``) name."""
    days = int_param(params, "days", 7, 1, max(OVERVIEW_DAYS))
    if days not in OVERVIEW_DAYS:
        raise BadRequest(f"days must be one of {', '.join(map(str, OVERVIEW_DAYS))}")
    end = date_param(params, "end_date", today())
    return end - dt.timedelta(days=days - 1), end


def days_of(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def version_key(version: str) -> tuple:
    """Sorts versions as people read them: 10.0 after 9.1, 2.0 after 2.0b3 after 2.0a1."""
    # Letters (a pre-release) sort before the version's end, which sorts before more numbers.
    key = [(2, int(number), "") if number else (0, 0, letters.lower())
           for number, letters in re.findall(r"(\d+)|([A-Za-z]+)", version or "")]
    return tuple(key) + ((1, 0, ""),)


def product_has_reports(services, product: str) -> bool:
    """Whether this install ever received a crash of ``product`` (kept or not yet aggregated)."""
    with services.database.connection() as connection:
        rows = connection.run("SELECT EXISTS (SELECT 1 FROM reports WHERE product = :product)", product=product)
    return bool(rows[0][0])


def _cached(services, key, compute):
    """The answer of endpoint ``key[0]`` for arguments ``key[1:]`` (``crashflow.api.answers``)."""
    return services.answers.get(key[0], key[1:], compute)


def products(services, call: Call) -> Reply:
    """``/api/Products/?days=7``: products with crashes in the window, most crashes first."""
    check_known_params(call.args, {"days", "end_date"})
    start, end = window(call.args)

    def compute() -> dict:
        with services.database.connection() as connection:
            rows = connection.run(
                "SELECT product, version, report_date, sum(report_count)::bigint FROM crashes_per_day "
                "WHERE report_date >= :start AND report_date <= :end GROUP BY 1, 2, 3",
                start=start, end=end)
        per_product: dict[str, dict] = {}
        for product, version, day, count in rows:
            entry = per_product.setdefault(product, {"days": dict.fromkeys(days_of(start, end), 0), "versions": {}})
            entry["days"][day] += int(count)
            entry["versions"][version] = entry["versions"].get(version, 0) + int(count)
        hits = []
        for product, entry in per_product.items():
            versions = sorted(entry["versions"], key=version_key, reverse=True)
            hits.append({
                "product": product,
                "total": sum(entry["days"].values()),
                "days": [{"date": day.isoformat(), "count": count} for day, count in entry["days"].items()],
                "newest_version": versions[0] if versions else None,
                "versions": [{"version": version, "count": entry["versions"][version]} for version in versions],
            })
        hits.sort(key=lambda hit: (-hit["total"], hit["product"]))
        return {"start_date": start.isoformat(), "end_date": end.isoformat(), "hits": hits, "total": len(hits)}

    return Reply(200, _cached(services, ("Products", start, end), compute))


def _with_daily(connection, product: str, hits: list[dict], start: dt.date, end: dt.date) -> list[dict]:
    """``hits`` with each signature's crashes per day of the window (``daily``)."""
    daily = daily_counts(connection, product, [hit["signature"] for hit in hits], start, end)
    for hit in hits:
        hit["daily"] = daily.get(hit["signature"], [0] * len(days_of(start, end)))
    return hits


def new_signatures(services, call: Call) -> Reply:
    """``/api/NewSignatures/?product=P&days=7``: signatures first seen in the window (on
    any product) that crashed in ``product`` there, most crashes first."""
    params = product_params(call, {"days", "end_date", "_results_number"})
    product, (start, end) = params["product"], window(params)
    limit = int_param(params, "_results_number", DEFAULT_RESULTS, 1, MAX_RESULTS)
    since = dt.datetime.combine(start, dt.time(), dt.timezone.utc)

    def compute() -> dict:
        with services.database.connection() as connection:
            rows = connection.run("""
                SELECT t.signature, s.first_date, s.first_build, sum(t.report_count)::bigint AS crashes
                FROM top_crashers_by_product t JOIN signatures s ON s.signature = t.signature
                WHERE t.product = :product AND t.report_date >= :start AND t.report_date <= :end
                  AND s.first_date >= :since
                GROUP BY t.signature, s.first_date, s.first_build
                ORDER BY crashes DESC, t.signature
                LIMIT :limit
            """, product=product, start=start, end=end, since=since, limit=limit)
            hits = [{"signature": signature, "first_date": first_date.isoformat(), "first_build": first_build,
                     "count": int(count)} for signature, first_date, first_build, count in rows]
            return _answer(product, start, end, _with_daily(connection, product, hits, start, end))

    return Reply(200, _cached(services, ("NewSignatures", product, start, end, limit), compute))


def explosive_signatures(services, call: Call) -> Reply:
    """``/api/ExplosiveSignatures/?product=P&days=7&threshold=3``: signatures whose one-day
    or three-day explosiveness reached ``threshold`` on a day of the window; each with its
    highest one-day score's day, highest score first."""
    params = product_params(call, {"days", "end_date", "threshold", "_results_number"})
    product, (start, end) = params["product"], window(params)
    limit = int_param(params, "_results_number", DEFAULT_RESULTS, 1, MAX_RESULTS)
    try:
        threshold = float(params.get("threshold") or EXPLOSIVE_THRESHOLD)
    except ValueError:
        raise BadRequest("threshold must be a number") from None

    def compute() -> dict:
        with services.database.connection() as connection:
            rows = connection.run("""
                SELECT signature, report_date, day_count, oneday, threeday FROM (
                    SELECT DISTINCT ON (signature) signature, report_date, day_count, oneday, threeday
                    FROM explosiveness
                    WHERE product = :product AND report_date >= :start AND report_date <= :end
                      AND (oneday >= :threshold OR threeday >= :threshold) AND signature <> ''
                    ORDER BY signature, greatest(oneday, threeday) DESC, report_date DESC
                ) AS best
                ORDER BY greatest(oneday, threeday) DESC, signature
                LIMIT :limit
            """, product=product, start=start, end=end, threshold=threshold, limit=limit)
            hits = [{"signature": signature, "date": day.isoformat(), "count": int(count),
                     "oneday": round(float(oneday), 2), "threeday": round(float(threeday), 2)}
                    for signature, day, count, oneday, threeday in rows]
            return {**_answer(product, start, end, _with_daily(connection, product, hits, start, end)),
                    "threshold": threshold}

    return Reply(200, _cached(services, ("ExplosiveSignatures", product, start, end, threshold, limit), compute))


def regressions(services, call: Call) -> Reply:
    """``/api/Regressions/?product=P&days=7&quiet_days=14``: signatures that crashed in the
    window after at least ``quiet_days`` days without a crash of ``product``, naming the
    versions they came back in, most crashes first."""
    params = product_params(call, {"days", "end_date", "quiet_days", "_results_number"})
    product, (start, end) = params["product"], window(params)
    quiet_days = int_param(params, "quiet_days", QUIET_DAYS, 1, 365)
    limit = int_param(params, "_results_number", DEFAULT_RESULTS, 1, MAX_RESULTS)

    def compute() -> dict:
        with services.database.connection() as connection:
            rows = returning_signatures(connection, start, end, quiet_days, 1, "product = :product",
                                        product=product)[:limit]
            hits = [{"signature": signature, "count": int(crashes), "versions": list(versions),
                     "back_on": back_on.isoformat(), "last_seen": last_seen.isoformat(),
                     "quiet_days": (back_on - last_seen).days - 1}
                    for _, signature, crashes, versions, back_on, last_seen in rows]
            return {**_answer(product, start, end, _with_daily(connection, product, hits, start, end)),
                    "quiet_days": quiet_days}

    return Reply(200, _cached(services, ("Regressions", product, start, end, quiet_days, limit), compute))


def _answer(product: str, start: dt.date, end: dt.date, hits: list[dict]) -> dict:
    return {"product": product, "start_date": start.isoformat(), "end_date": end.isoformat(),
            "hits": hits, "total": len(hits)}
