"""Symbols for those who read them: ``/api/MissingSymbols/`` (the modules a day's crashes
needed and the symbols bucket lacks) and the symbol server (``/symbols/...``)."""

from __future__ import annotations

from dataclasses import asdict

from crashflow.api.calls import Call, Reply, check_known_params, date_param, today
from crashflow.stores.layout import symbol_key


def missing_symbols(services, call: Call) -> Reply:
    """``?date=YYYY-MM-DD&product=``: ``{"hits": [{debug_file, debug_id, code_file,
    code_id, crash_count}], "total": n}``, most crashes first (``crashflow symbols
    missing`` prints the same, or CSV). The date defaults to today (UTC)."""
    check_known_params(call.args, {"date", "product"})
    day = date_param(call.args, "date", today())
    report = services.stores.symbol_uploads.missing_symbols(day, call.args.get("product") or None)
    return Reply(200, {"hits": [asdict(line) for line in report], "total": len(report)})


# A symbol file never changes under its debug id: caches may keep it for good.
IMMUTABLE = "public, max-age=31536000, immutable"
# Shorter than the presigned URL's life, so a cached redirect never points at an expired one.
REDIRECT_SECONDS = 900
REDIRECT_CACHE = f"private, max-age={REDIRECT_SECONDS // 2}"
NOT_FOUND_CACHE = "no-cache"  # it may be uploaded any time


def symbol_file(services, call: Call, debug_file: str, debug_id: str, name: str) -> Reply:
    """``GET``/``HEAD /symbols/<debug_file>/<debug_id>/<file name>``: the symbol server
    layout minidump-stackwalk's ``--symbols-url``, Breakpad's processor and debuggers
    read. GET answers with a redirect to a presigned URL of the file (or, with
    ``CRASHFLOW_SYMBOLS_SERVER_REDIRECT=false``, the bytes); unknown files are 404s.
    Public unless ``CRASHFLOW_SYMBOLS_PUBLIC=false``: then a token with ``view_symbols``."""
    if not services.settings.symbols_public:
        call.require("view_symbols")
    symbols = services.stores.symbols
    key = symbol_server_key(debug_file, debug_id, name)
    path = f"{debug_file}/{debug_id}/{name}"
    not_found = Reply(404, {"error": f"no symbol file {path[:200]}"}, {"Cache-Control": NOT_FOUND_CACHE})
    if key is None:
        return not_found
    if call.request.method == "HEAD" or services.settings.symbols_server_redirect:
        size = symbols.size(key)
        if size is None:
            return not_found
        if call.request.method == "HEAD":
            # An empty stream, not b"": the server would set Content-Length to the empty body's.
            return Reply(200, iter(()),
                         {"Content-Length": str(size), "Cache-Control": IMMUTABLE, "Content-Type": "text/plain"})
        return Reply(302, b"", {"Location": symbols.download_url(key, REDIRECT_SECONDS), "Cache-Control": REDIRECT_CACHE})
    reader = symbols.open(key)
    if reader is None:
        return not_found
    return Reply(200, reader.chunks,
                 {"Content-Length": str(reader.size), "Cache-Control": IMMUTABLE, "Content-Type": "text/plain"})


def symbol_server_key(debug_file: str, debug_id: str, name: str) -> str | None:
    """The symbols bucket key of ``<debug_file>/<debug_id>/<name>``, or None when it is not
    one (traversal, control characters, a name that is not the module's .sym)."""
    key = symbol_key(debug_file, debug_id)
    if key is None or key != f"{debug_file}/{debug_id}/{name}":
        return None
    return key
