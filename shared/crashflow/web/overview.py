"""The overview pages: home ``/`` (every product with crashes in the last 7 days, its trend and
newest version) and a product's home ``/home/product/<product>?days=7|14|28`` (crashes per day
by version, the top crashers, new, explosive and returning signatures, and when the numbers
were computed). Both ask the API's own endpoints (``crashflow.api.overview``,
``TopCrashers``, ``CrashesPerDay``, ``AggregationJobs``)."""

from __future__ import annotations

import datetime as dt

from crashflow.api import aggregates, overview
from crashflow.api.calls import Reply, today
from crashflow.api.errors import BadRequest
from crashflow.web.charts import top_versions, version_series
from crashflow.web.page import Page

HOME_DAYS = 7
PRODUCT_DAYS = (7, 14, 28)
# The products a page offers (the top crashers' picker, an unknown product's 404 page):
# those with crashes in this many days, most crashes first.
PICKER_DAYS = 28
RECENT_PRODUCTS = (overview.products, {"days": PICKER_DAYS})
TOP_CRASHERS = 10
# The jobs whose tables the overview pages read, and what each gives them.
OVERVIEW_JOBS = {
    "crashes_per_day": "crashes per day",
    "top_crashers": "top crashers and regressions",
    "signatures": "new signatures",
    "explosiveness": "explosive signatures",
    "bug_associations": "linked bugs",
}


def signature_dates(start: str, end: str) -> list[str]:
    """A window of whole UTC days as SuperSearch date values (the end day included)."""
    after_end = dt.date.fromisoformat(end) + dt.timedelta(days=1)
    return [f">={start}", f"<{after_end.isoformat()}"]


def job_status(page: Page) -> dict:
    """When the overview's numbers were computed ("as of": the oldest of the latest
    successful runs of the jobs it reads) and the jobs whose latest run failed."""
    runs = {run["job"]: run for run in page.ask(aggregates.aggregation_jobs).body["hits"]}
    relevant = [runs[job] for job in OVERVIEW_JOBS if job in runs]
    successes = [run["last_success"] for run in relevant if run["last_success"]]
    failed = [{**run, "gives": OVERVIEW_JOBS[run["job"]]} for run in relevant if run["status"] == "failed"]
    never = [OVERVIEW_JOBS[job] for job in OVERVIEW_JOBS if job not in runs or not runs[job]["last_success"]]
    return {"as_of": min(successes) if successes else None, "failed": failed, "never": never}


def nearest_product_days(days: int) -> int:
    """The product home's window nearest to ``days`` (top crashers' 1 and 3 days: 7)."""
    return min(PRODUCT_DAYS, key=lambda choice: (abs(choice - days), choice))


def product_not_found(page: Page, product: str, recent: list[dict] | None = None) -> Reply | None:
    """The 404 page for a product this install never received a crash of (it lists the
    products with recent crashes, ``recent`` if the caller asked already); None for a known
    product. The API answers such a product with empty lists, as it always has."""
    if recent is None:
        recent = page.ask(*RECENT_PRODUCTS).body["hits"]
    if any(hit["product"] == product for hit in recent) or overview.product_has_reports(page.services, product):
        return None
    return page.error(404, f"No crash of a product named “{product}” was ever received here.",
                      known_products=[hit["product"] for hit in recent], known_days=PICKER_DAYS)


def home_asks() -> dict:
    """What the home page asks the API: (endpoint, parameters) by name."""
    return {"products": (overview.products, {"days": HOME_DAYS})}


def home_page(page: Page) -> Reply:
    products = page.ask(*home_asks()["products"]).body
    # For an empty install: where this machine's collect function listens (the README's line).
    host = page.request.host.rsplit(":", 1)[0] if page.request.host else "127.0.0.1"
    return page.render("home.html", nav="home", products=products, jobs=job_status(page),
                       submit_url=f"http://{host}:{page.services.settings.collect_port}/submit")


def product_home_asks(product: str, days: int, end: dt.date) -> dict:
    """What a product's home asks the API for the ``days`` days ending ``end``. The top
    crashers are the top-crashers page's own ranking of that window (its first ten shown),
    so that one answer serves both pages."""
    window = dict(product=product, days=days)
    return {
        "per_day": (aggregates.crashes_per_day, dict(product=product, to_date=end.isoformat(),
                                                     from_date=(end - dt.timedelta(days=days - 1)).isoformat())),
        "ranking": (aggregates.top_crashers, window),
        "new": (overview.new_signatures, window),
        "explosive": (overview.explosive_signatures, window),
        "regressions": (overview.regressions, window),
    }


def product_home_page(page: Page, product: str) -> Reply:
    try:
        days = int(page.args.get("days") or PRODUCT_DAYS[0])
    except ValueError:
        days = 0
    if days not in PRODUCT_DAYS:
        raise BadRequest(f"days must be one of {', '.join(map(str, PRODUCT_DAYS))}")
    missing = product_not_found(page, product)
    if missing:
        return missing
    asks = product_home_asks(product, days, today())
    per_day = page.ask(*asks["per_day"]).body
    start, end = dt.date.fromisoformat(per_day["from_date"]), dt.date.fromisoformat(per_day["to_date"])
    totals = {dt.date.fromisoformat(day["date"]): day["count"] for day in per_day["days"]}
    by_version: dict[dt.date, dict[str, int]] = {}
    version_totals: dict[str, int] = {}
    for hit in per_day["hits"]:
        by_version.setdefault(dt.date.fromisoformat(hit["date"]), {})[hit["version"]] = hit["count"]
        version_totals[hit["version"]] = version_totals.get(hit["version"], 0) + hit["count"]
    graph = version_series(start, end, totals, by_version, top_versions(version_totals))
    ranking = page.ask(*asks["ranking"]).body
    ranking = {**ranking, "crashes": ranking["crashes"][:TOP_CRASHERS]}
    lists = {name: page.ask(*asks[name]).body for name in ("new", "explosive", "regressions")}
    dates = signature_dates(per_day["from_date"], per_day["to_date"])
    # The header's Top crashers and Super Search links keep this product and window.
    page.context.update(product=product, days=days, date=dates)
    return page.render(
        "product_home.html", nav="home", product=product, days=days, day_choices=PRODUCT_DAYS,
        per_day=per_day, graph=graph, ranking=ranking, lists=lists, jobs=job_status(page),
        dates=dates,
        newest_version=max(version_totals, key=overview.version_key) if version_totals else None)
