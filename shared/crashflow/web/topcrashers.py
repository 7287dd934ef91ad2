"""Top crashers ``/topcrashers/?product=&version=&days=``: the ranking of the ``TopCrashers``
endpoint, each signature linked to its signature page for the same product, version and
whole-day window, so the counts there agree with the ranking's."""

from __future__ import annotations

import datetime as dt

from crashflow.api.topcrashers import WINDOW_DAYS
from crashflow.api import aggregates
from crashflow.api.calls import Reply
from crashflow.web.page import Page

PARAMS = ("product", "version", "days", "process_type", "platform")


def top_crashers_page(page: Page) -> Reply:
    params = {name: page.args.get(name, "") for name in PARAMS}
    values = dict(nav="topcrashers", params=params, window_days=WINDOW_DAYS, ranking=None)
    if not params["product"]:
        return page.render("topcrashers.html", **values)
    ranking = page.ask(aggregates.top_crashers, [(name, value) for name, value in params.items() if value]).body
    end = dt.date.fromisoformat(ranking["end_date"])
    # The ranking's window as SuperSearch dates: whole UTC days, the end day included.
    dates = [f">={ranking['start_date']}", f"<{(end + dt.timedelta(days=1)).isoformat()}"]
    values.update(ranking=ranking, dates=dates)
    return page.render("topcrashers.html", **values)
