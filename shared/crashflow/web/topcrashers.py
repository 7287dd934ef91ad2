"""Top crashers ``/topcrashers/?product=&version=&days=&_results_number=&_sort=``: the
ranking of the ``TopCrashers`` endpoint, each signature linked to its signature page for the
same product, version and whole-day window, so the counts there agree with the ranking's.

Without a product it opens the product with the most crashes (as crash-stats lands on a
default product); an unknown product is a 404 page naming the known ones."""

from __future__ import annotations

from crashflow.api import aggregates
from crashflow.api.calls import Reply
from crashflow.api.errors import BadRequest
from crashflow.api.topcrashers import WINDOW_DAYS
from crashflow.web.overview import (
    RECENT_PRODUCTS, job_status, nearest_product_days, product_not_found, signature_dates,
)
from crashflow.web.page import Page
from crashflow.web.report import bug_link

# How many signatures a page shows (crash-stats' choices); the first is the default.
ROW_CHOICES = (50, 100, 200, 300)
# Columns the ranking sorts by (``_sort=count``, ``_sort=-count`` descending): a row's key.
SORT_KEYS = {
    "rank": lambda crash: crash["rank"],
    "change": lambda crash: 100000 if crash["rank_change"] == "new" else crash["rank_change"],
    "signature": lambda crash: crash["signature"].lower(),
    "count": lambda crash: crash["count"],
    "installs": lambda crash: crash["install_count"],
    "first_seen": lambda crash: crash["first_date"] or "",
}

FILTERS = ("product", "version", "days", "process_type", "platform", "report_type")
PARAMS = (*FILTERS, "_results_number", "_sort")


def top_crashers_asks(params: dict) -> dict:
    """What the page asks the API for the form's ``params`` (those given)."""
    asks = {"products": RECENT_PRODUCTS}
    if params.get("product"):
        asks["ranking"] = (aggregates.top_crashers, [(name, params[name]) for name in FILTERS if params.get(name)]
                           + ([("_results_number", params["_results_number"])]
                              if params.get("_results_number") else []))
    return asks


def rows_wanted(value: str) -> int | None:
    """The page size asked for (None: the default, which the API's default matches)."""
    if not value:
        return None
    if value not in {str(choice) for choice in ROW_CHOICES}:
        raise BadRequest(f"_results_number must be one of {', '.join(map(str, ROW_CHOICES))}")
    return None if int(value) == ROW_CHOICES[0] else int(value)


def sort_order(value: str) -> tuple[str, bool] | None:
    """(column, descending) of ``_sort`` (``count`` or ``-count``), None for the ranking's own order."""
    if not value:
        return None
    key = value.removeprefix("-")
    if key not in SORT_KEYS:
        raise BadRequest(f"_sort must be one of {', '.join(SORT_KEYS)}, with a leading - for descending")
    return key, value.startswith("-")


def top_crashers_page(page: Page) -> Reply:
    params = {name: page.args.get(name, "") for name in PARAMS}
    rows = rows_wanted(params["_results_number"])
    params["_results_number"] = str(rows) if rows else ""
    order = sort_order(params["_sort"])
    asks = top_crashers_asks(params)
    products = page.ask(*asks["products"]).body["hits"]
    if not params["product"]:
        if products:  # the product with the most crashes, the rest of the query kept
            return page.redirect(page.here(product=products[0]["product"]), status=302)
        return page.render("topcrashers.html", nav="topcrashers", params=params, window_days=WINDOW_DAYS,
                           row_choices=ROW_CHOICES, ranking=None, products=products)
    missing = product_not_found(page, params["product"], products)
    if missing:
        return missing
    ranking = page.ask(*asks["ranking"]).body
    crashes = ranking["crashes"]
    if order:
        key, descending = order
        crashes = sorted(crashes, key=SORT_KEYS[key], reverse=descending)
    settings = page.services.settings
    bugs = {crash["signature"]: [(bug, bug_link(settings, bug)) for bug in crash["bugs"]] for crash in crashes}
    dates = signature_dates(ranking["start_date"], ranking["end_date"])
    page.context.update(date=dates)
    shown = sum(crash["count"] for crash in crashes)
    return page.render(
        "topcrashers.html", nav="topcrashers", params=params, window_days=WINDOW_DAYS, row_choices=ROW_CHOICES,
        products=products, ranking=ranking, crashes=crashes, sorted_by=order, dates=dates, bugs=bugs,
        jobs=job_status(page), shown=shown, rows=rows or ROW_CHOICES[0],
        signatures=ranking["signatures"],
        home_days=nearest_product_days(ranking["days"]),
        versions=next((hit["versions"] for hit in products if hit["product"] == params["product"]), []))
