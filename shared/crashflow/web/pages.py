"""The UI's pages. Each one asks the API's own endpoint functions (so the UI shows exactly
what the API answers, protected fields withheld included) and renders a template; Jinja2
escapes every value, so crash data cannot inject markup. A page that left fields out says
how many ("N fields hidden — sign in with a token that has view_pii")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import jinja2
from werkzeug.datastructures import MultiDict

from crashflow.api import aggregates, crashes, search
from crashflow.api.calls import Call, Reply
from crashflow.api.errors import ApiError, NotFound
from crashflow.api.redaction import WITHHELD_KEY
from crashflow.api.supersearch import OPERATORS
from crashflow.fields import PII_PERMISSION

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("crashflow.web", "templates"),
    autoescape=jinja2.select_autoescape(default=True),
)
PENDING_REFRESH_SECONDS = 3


@dataclass
class PageRequest:
    """What an endpoint reads of a request, with the page's own parameters."""

    args: MultiDict
    headers: dict


def _ask(handler, services, call: Call, **params) -> Reply:
    request = PageRequest(MultiDict(params), {})
    return handler(services, Call(request, call.permissions))


def page(name: str, status: int = 200, headers: dict | None = None, **values) -> Reply:
    return Reply(status, TEMPLATES.get_template(name).render(**values), headers or {})


def split_withheld(call: Call, answer: dict) -> tuple[dict, int]:
    """An API answer without its ``_withheld``, and how many fields that says were left out
    (always 0 for a caller with view_pii, whose answers have none: a crash's own annotation
    of that name is then just an annotation)."""
    if PII_PERMISSION in call.permissions or not isinstance(answer.get(WITHHELD_KEY), dict):
        return answer, 0
    rest = {key: value for key, value in answer.items() if key != WITHHELD_KEY}
    return rest, answer[WITHHELD_KEY]["count"]


def report(services, call: Call, crash_id: str) -> Reply:
    """``/report/index/<crash id>``: details, modules, threads and raw annotations; a crash
    not processed yet gets a page that asks for it again every few seconds."""
    try:
        answer = _ask(crashes.processed_crash, services, call, crash_id=crash_id)
    except ApiError as error:
        return page("error.html", error.status, message=str(error))
    if answer.status == 202:
        return page("pending.html", 200, {"Refresh": str(PENDING_REFRESH_SECONDS)},
                    crash_id=answer.body["crash_id"], seconds=PENDING_REFRESH_SECONDS)
    processed, hidden = split_withheld(call, answer.body)
    try:
        raw, raw_hidden = split_withheld(call, _ask(crashes.raw_crash, services, call, crash_id=crash_id).body)
    except NotFound:  # the raw crash went (expired) after it was processed
        raw, raw_hidden = {}, 0
    dump = processed.get("json_dump") or {}
    crashing = dump.get("crashing_thread") or {}
    return page("report.html", crash=processed, raw=raw, modules=dump.get("modules") or [],
                frames=crashing.get("frames") or [], threads=dump.get("threads") or [],
                hidden=hidden + raw_hidden, raw_hidden=raw_hidden)


def search_page(services, call: Call) -> Reply:
    """``/search/``: a SuperSearch form, its signature facet and its reports."""
    params = {name: call.args.get(name, "") for name in ("product", "version", "signature", "platform", "date")}
    filters = [(name, value) for name, value in params.items() if value]
    # A bare date in the form means "since then", not "at exactly that instant".
    filters = [(name, f">={value}" if name == "date" and not value.startswith((*OPERATORS, "!")) else value)
               for name, value in filters]
    if not filters:
        return page("search.html", params=params, result=None)
    try:
        query = MultiDict([*filters, ("_columns", "uuid,date,signature,product,version,platform"),
                           ("_facets", "signature")])
        result, hidden = split_withheld(
            call, search.super_search(services, Call(PageRequest(query, {}), call.permissions)).body)
    except ApiError as error:
        return page("search.html", 400, params=params, result=None, error=str(error))
    return page("search.html", params=params, result=result, hidden=hidden)


def signature_page(services, call: Call) -> Reply:
    """``/signature/?signature=``: the signature's reports, its spread, crashes per day."""
    signature = call.args.get("signature", "")
    if not signature:
        return page("error.html", 400, message="signature is required")
    since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=7)).date().isoformat()
    # "=": the signature is taken literally, whatever its first characters (!, @, <, ~, ...).
    query = MultiDict([("signature", f"={signature}"), ("date", f">={since}"),
                       ("_columns", "uuid,date,product,version,platform"), ("_facets", "product,version,platform"),
                       ("_histogram.date", "")])
    try:
        result, hidden = split_withheld(
            call, search.super_search(services, Call(PageRequest(query, {}), call.permissions)).body)
    except ApiError as error:
        return page("error.html", error.status, message=str(error))
    return page("signature.html", signature=signature, result=result, since=since, hidden=hidden)


def top_crashers_page(services, call: Call) -> Reply:
    """``/topcrashers/?product=&version=&days=``."""
    params = {name: call.args.get(name, "") for name in ("product", "version", "days", "process_type", "platform")}
    if not params["product"]:
        return page("topcrashers.html", params=params, ranking=None)
    try:
        ranking = _ask(aggregates.top_crashers, services, call,
                       **{name: value for name, value in params.items() if value}).body
    except ApiError as error:
        return page("topcrashers.html", 400, params=params, ranking=None, error=str(error))
    return page("topcrashers.html", params=params, ranking=ranking)
