"""Symbols for those who read them: ``/api/MissingSymbols/`` (the modules a day's crashes
needed and the symbols bucket lacks) and the symbol server (``/symbols/...``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

from crashflow.api.calls import Call, Reply, check_known_params
from crashflow.api.errors import BadRequest
from crashflow.late_symbols import missing_symbols_report
from crashflow.stores.layout import symbol_key

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


# A symbol file never changes under its debug id: caches may keep it for good.
IMMUTABLE = "public, max-age=31536000, immutable"
# Shorter than the presigned URL's life, so a cached redirect never points at an expired one.
REDIRECT_SECONDS = 900
REDIRECT_CACHE = f"private, max-age={REDIRECT_SECONDS // 2}"


def symbol_file(services, call: Call, debug_file: str, debug_id: str, name: str) -> Reply:
    """``GET``/``HEAD /symbols/<debug_file>/<debug_id>/<file name>``: the symbol server
    layout minidump-stackwalk's ``--symbols-url``, Breakpad's processor and debuggers
    read. GET answers with a redirect to a presigned URL of the file (or, with
    ``CRASHFLOW_SYMBOLS_SERVER_REDIRECT=false``, the bytes); unknown files are 404s.
    Public unless ``CRASHFLOW_SYMBOLS_PUBLIC=false``: then a token with ``view_symbols``."""
    if not services.settings.symbols_public:
        call.require("view_symbols")
    key = symbol_server_key(debug_file, debug_id, name)
    size = services.stores.symbols.size(key) if key else None
    if size is None:
        path = f"{debug_file}/{debug_id}/{name}"
        return Reply(404, {"error": f"no symbol file {path[:200]}"}, {"Cache-Control": "no-cache"})
    if call.request.method == "HEAD":
        # An empty stream, not b"": the server would set Content-Length to the empty body's.
        return Reply(200, iter(()),
                     {"Content-Length": str(size), "Cache-Control": IMMUTABLE, "Content-Type": "text/plain"})
    if services.settings.symbols_server_redirect:
        url = services.stores.symbols.presigned_url(key, REDIRECT_SECONDS)
        return Reply(302, b"", {"Location": url, "Cache-Control": REDIRECT_CACHE})
    return Reply(200, services.stores.symbols.stream(key),
                 {"Content-Length": str(size), "Cache-Control": IMMUTABLE, "Content-Type": "text/plain"})


def symbol_server_key(debug_file: str, debug_id: str, name: str) -> str | None:
    """The symbols bucket key of ``<debug_file>/<debug_id>/<name>``, or None when it is not
    one (traversal, control characters, a name that is not the module's .sym)."""
    key = symbol_key(debug_file, debug_id)
    if key is None or key != f"{debug_file}/{debug_id}/{name}":
        return None
    return key
