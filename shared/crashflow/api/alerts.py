"""``GET /api/Alerts/``: the alerts the rules raised, newest first, each with its deliveries.

Parameters (all optional): ``rule``, ``kind``, ``product``, ``signature`` (exact, repeatable),
``from_date`` / ``to_date`` (days the alerts fired, UTC), ``include_samples`` (``true``:
also ``crashflow alerts test``'s samples), ``_results_number`` (default 50) and
``_results_offset``.
"""

from __future__ import annotations

import datetime as dt

from crashflow.api.calls import Call, Reply, check_known_params, date_param, int_param, list_param
from crashflow.api.errors import BadRequest

MAX_RESULTS = 1000
FILTERS = ("rule", "kind", "product", "signature")
ALERT_COLUMNS = ("id", "rule", "kind", "product", "version", "signature", "report_date", "summary", "details",
                 "fired_at", "sample")
DELIVERY_COLUMNS = ("alert_id", "id", "webhook", "status", "rounds", "last_attempt_at", "last_status",
                    "last_error", "next_attempt_at", "delivered_at")


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.timezone.utc)


def alerts(services, call: Call) -> Reply:
    params = call.args
    check_known_params(params, {*FILTERS, "from_date", "to_date", "include_samples", "_results_number",
                                "_results_offset"})
    conditions, values = [], {}
    for name in FILTERS:
        wanted = list_param(params, name, split=False)
        if wanted:
            conditions.append(f"{name} = ANY(:{name})")
            values[name] = wanted
    from_date, to_date = date_param(params, "from_date", None), date_param(params, "to_date", None)
    if from_date is not None:
        conditions.append("fired_at >= :fired_from")
        values["fired_from"] = day_start(from_date)
    if to_date is not None:  # the whole day, UTC
        conditions.append("fired_at < :fired_to")
        values["fired_to"] = day_start(to_date + dt.timedelta(days=1))
    include_samples = params.get("include_samples", "false").lower()
    if include_samples not in ("true", "false"):
        raise BadRequest("include_samples must be true or false")
    if include_samples == "false":
        conditions.append("NOT sample")
    limit = int_param(params, "_results_number", 50, 0, MAX_RESULTS)
    offset = int_param(params, "_results_offset", 0, 0, 1_000_000)
    where = " AND ".join(conditions) or "TRUE"
    with services.database.connection() as connection:
        total = connection.run(f"SELECT count(*) FROM alerts WHERE {where}", **values)[0][0]
        rows = connection.run(
            f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts WHERE {where} ORDER BY fired_at DESC, id DESC "
            "LIMIT :limit OFFSET :offset", limit=limit, offset=offset, **values)
        hits = [dict(zip(ALERT_COLUMNS, row)) for row in rows]
        deliveries = connection.run(
            f"SELECT {', '.join(DELIVERY_COLUMNS)} FROM alert_deliveries WHERE alert_id = ANY(:ids) ORDER BY id",
            ids=[hit["id"] for hit in hits]) if hits else []
    by_alert: dict[int, list] = {}
    for row in deliveries:
        delivery = dict(zip(DELIVERY_COLUMNS, row))
        by_alert.setdefault(delivery.pop("alert_id"), []).append(delivery)
    for hit in hits:
        hit["deliveries"] = by_alert.get(hit["id"], [])
    return Reply(200, {"total": total, "hits": hits})

