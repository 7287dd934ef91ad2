"""``/api/MissingSymbols/``: the modules a day's crashes needed and the symbols bucket lacks."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

from crashflow.api.calls import Call, Reply, check_known_params
from crashflow.api.errors import BadRequest
from crashflow.late_symbols import missing_symbols_report

def day_param(params, name: str = "date") -> dt.date:
    """``YYYY-MM-DD``; today (UTC) when not given."""
    raw = params.get(name)
    if not raw:
        return dt.datetime.now(dt.timezone.utc).date()
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a date (YYYY-MM-DD), not {raw[:40]!r}") from None


def missing_symbols(services, call: Call) -> Reply:
    """``?date=YYYY-MM-DD&product=``: ``{"hits": [{debug_file, debug_id, code_file,
    code_id, crash_count}], "total": n}``, most crashes first (``crashflow symbols
    missing`` prints the same, or CSV)."""
    check_known_params(call.args, {"date", "product"})
    day = day_param(call.args)
    with services.database.connection() as connection:
        report = missing_symbols_report(connection, day, call.args.get("product") or None)
    return Reply(200, {"hits": [asdict(row) for row in report], "total": len(report)})
