"""Top crashers ``/topcrashers/?product=&version=&days=``: the ranking of the ``TopCrashers``
endpoint, each signature linked to its signature page for the same product, version and
whole-day window, so the counts there agree with the ranking's."""

from __future__ import annotations

from crashflow.api import aggregates, overview
from crashflow.api.calls import Reply
from crashflow.api.topcrashers import WINDOW_DAYS
from crashflow.web.overview import job_status, signature_dates
from crashflow.web.page import Page
from crashflow.web.report import bug_link

# The picker offers the products with crashes in this many days.
PICKER_DAYS = 28

PARAMS = ("product", "version", "days", "process_type", "platform", "report_type")


def top_crashers_asks(params: dict) -> dict:
    """What the page asks the API for the form's ``params`` (those given)."""
    asks = {"products": (overview.products, {"days": PICKER_DAYS})}
    if params.get("product"):
        asks["ranking"] = (aggregates.top_crashers, [(name, params[name]) for name in PARAMS if params.get(name)])
    return asks


def top_crashers_page(page: Page) -> Reply:
    params = {name: page.args.get(name, "") for name in PARAMS}
    asks = top_crashers_asks(params)
    products = page.ask(*asks["products"]).body["hits"]
    values = dict(nav="topcrashers", params=params, window_days=WINDOW_DAYS, ranking=None, products=products)
    if not params["product"]:
        return page.render("topcrashers.html", **values)
    ranking = page.ask(*asks["ranking"]).body
    settings = page.services.settings
    bugs = {crash["signature"]: [(bug, bug_link(settings, bug)) for bug in crash["bugs"]] for crash in ranking["crashes"]}
    values.update(ranking=ranking, dates=signature_dates(ranking["start_date"], ranking["end_date"]), bugs=bugs,
                  jobs=job_status(page),
                  versions=next((hit["versions"] for hit in products if hit["product"] == params["product"]), []))
    return page.render("topcrashers.html", **values)
