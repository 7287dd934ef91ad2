"""The signature page ``/signature/?signature=S&product=P&version=V&date=>=D``: one
signature's crashes in tabs (summary, graph, reports, aggregations, correlations, bugs).

Every tab honours the product, version and date range (SuperSearch's own parameters, so
the page's URL and a SuperSearch query are one edit apart; 7 whole UTC days by default,
as top crashers count). Each tab asks SuperSearch only what it shows (Postgres's report
rows: crashflow keeps no HBase index by signature).
"""

from __future__ import annotations

import datetime as dt

from crashflow.api import search, signatures
from crashflow.api.calls import Reply, list_param
from crashflow.api.errors import BadRequest
from crashflow.api.supersearch import join_value, split_value
from crashflow.web.charts import GRAPH_VERSIONS, version_series
from crashflow.web.format import parse_time
from crashflow.web.page import Page, query_string
from crashflow.web.report import bug_link, correlations_view
from crashflow.web.searchform import (
    FieldCatalog,
    Paging,
    columns,
    current_preset,
    presets,
    search_params,
    sort_key,
)

TABS = {
    "summary": "Summary",
    "graph": "Graph",
    "reports": "Reports",
    "aggregations": "Aggregations",
    "correlations": "Correlations",
    "bugs": "Bugs",
}
SUMMARY_FACETS = {
    "product": "Product",
    "version": "Version",
    "platform": "Operating system",
    "cpu_arch": "CPU architecture",
    "process_type": "Process type",
    "release_channel": "Release channel",
}
SUMMARY_FACETS_SIZE = 10
# Enough versions per day that the graph's top versions are each day's too.
GRAPH_FACETS_SIZE = 100
REPORT_COLUMNS = ["uuid", "date", "product", "version", "platform", "process_type", "reason"]
DEFAULT_AGGREGATION = "platform"
DEFAULT_DAYS = 7


def default_dates(today: dt.date | None = None) -> list[str]:
    return [next(p for p in presets(today) if p.days == DEFAULT_DAYS).value]


def date_range(start: str, end: str) -> list[str]:
    """A custom range of whole days (``end`` included) as SuperSearch date values."""
    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end) if end else None
    except ValueError:
        raise BadRequest("dates must look like 2026-11-26") from None
    if last is not None and last < first:
        raise BadRequest("the range ends before it starts")
    values = [f">={first.isoformat()}"]
    if last is not None:
        values.append(f"<{(last + dt.timedelta(days=1)).isoformat()}")
    return values


def window(dates: list[str], today: dt.date) -> tuple[dt.date | None, dt.date]:
    """The first and last day the date values cover (the last is today when open)."""
    start, end = None, today
    for value in dates:
        _, operator, text = split_value(value)
        moment = parse_time(text)
        if moment is None:
            continue
        if operator in (">=", ">"):
            start = moment.date()
        elif operator == "<":
            end = min(end, (moment - dt.timedelta(microseconds=1)).date())
        elif operator == "<=":
            end = min(end, moment.date())
    return start, end


class SignatureQuery:
    """The signature page's filters, as SuperSearch parameters."""

    def __init__(self, page: Page):
        args = page.args
        self.signature = args.get("signature", "")
        if not self.signature:
            raise BadRequest("signature is required: /signature/?signature=...")
        self.dates = [value for value in args.getlist("date") if value] or default_dates()
        # "=": the signature is taken literally, whatever its first characters (!, @, <, ~, ...).
        self.filters = [("signature", join_value(False, "=", self.signature)),
                        *[(name, value) for name in ("product", "version") for value in args.getlist(name) if value],
                        *[("date", value) for value in self.dates]]
        self.products = [value for value in args.getlist("product") if value]

    def ask(self, page: Page, *extra) -> dict:
        return page.ask(search.super_search, self.filters + list(extra)).body


def signature_page(page: Page) -> Reply:
    args = page.args
    if "from" in args:  # the custom range form: the same page with SuperSearch's dates
        dates = date_range(args.get("from", ""), args.get("to", ""))
        kept = [(name, value) for name, value in args.items(multi=True) if name not in ("from", "to", "date", "page")]
        return page.redirect(f"/signature/?{query_string(kept + [('date', value) for value in dates])}")
    tab = args.get("tab") or "summary"
    if tab not in TABS:
        raise BadRequest(f"no tab {tab[:40]!r}; tabs: {', '.join(TABS)}")
    query = SignatureQuery(page)
    today = dt.datetime.now(dt.timezone.utc).date()
    start, end = window(query.dates, today)
    values = dict(nav="signature", tab=tab, tabs=TABS, signature=query.signature, query=query,
                  presets=presets(today), preset=current_preset(args, today) if args.getlist("date") else DEFAULT_DAYS,
                  start=start, end=end,
                  search_url=page.link("/search/", carry=False, params=query.filters))
    if tab == "summary":
        # One SuperSearch round: the six splits and the total from one scan, the newest
        # crash of the range (last seen) from one more; first seen is the signatures job's.
        result = query.ask(page, ("_facets", ",".join(SUMMARY_FACETS)), ("_facets_size", SUMMARY_FACETS_SIZE),
                           ("_columns", "date"), ("_sort", "-date"), ("_results_number", 1))
        first = page.ask(signatures.signature_first_date, signatures=query.signature).body["hits"]
        values.update(result=result, facets=SUMMARY_FACETS, first=first[0] if first else None,
                      last_date=result["hits"][0]["date"] if result["hits"] else None)
    elif tab == "graph":
        result = query.ask(page, ("_facets", "version"), ("_facets_size", GRAPH_FACETS_SIZE),
                           ("_histogram.date", "version"), ("_results_number", 0))
        values.update(result=result, graph=version_graph(result, start or end, end))
    elif tab == "reports":
        catalog = FieldCatalog(page)
        chosen = columns(args, catalog) if args.get("_columns") else REPORT_COLUMNS
        paging = Paging.of(args)
        params = [(name, value) for name, value in search_params(args) if name.startswith("_")
                  and name not in ("_columns", "_results_number", "_facets")]
        result, hidden = page.split_withheld(query.ask(
            page, *params, ("_columns", ",".join(chosen)), ("_facets", ""),
            ("_results_number", paging.size), ("_results_offset", paging.offset)))
        values.update(result=result, hidden=hidden, catalog=catalog, chosen_columns=chosen, paging=paging, sort=sort_key(args))
    elif tab == "aggregations":
        catalog = FieldCatalog(page)
        fields = [name for name in list_param(args, "_facets") if name != "signature"] or [DEFAULT_AGGREGATION]
        result = query.ask(page, ("_facets", ",".join(fields)), ("_facets_size", 50), ("_results_number", 0))
        values.update(result=result, catalog=catalog, aggregation_fields=fields)
    elif tab == "correlations":
        values.update(result=query.ask(page, ("_facets", ""), ("_results_number", 0)),
                      **correlations_view(page, query.signature, query.products))
    elif tab == "bugs":
        bugs = page.ask(signatures.bugs, signatures=query.signature).body["hits"]
        values.update(result=query.ask(page, ("_facets", ""), ("_results_number", 0)),
                      bugs=[{"id": bug["id"], "url": bug_link(page.services.settings, bug["id"])} for bug in bugs])
    return page.render("signature.html", **values)


def version_graph(result: dict, start: dt.date, end: dt.date) -> dict:
    """Crashes per day by version, from SuperSearch's date histogram by version."""
    top = [bucket["term"] for bucket in result["facets"].get("version", [])[:GRAPH_VERSIONS]]
    totals, by_version = {}, {}
    for bucket in result["facets"].get("histogram_date", []):
        moment = parse_time(bucket["term"])
        if moment is None:
            continue
        totals[moment.date()] = bucket["count"]
        by_version[moment.date()] = {sub["term"]: sub["count"] for sub in bucket.get("facets", {}).get("version", [])}
    return version_series(start, end, totals, by_version, top)
