"""Every page in Chromium: no console errors, no sideways scrolling from 1024 to 1920 px,
nothing printed as None; and script in crash data (annotations, signatures, module and
function names) stays inert text."""

from __future__ import annotations

import datetime as dt
import re
import time
import urllib.parse

import pytest
import requests

from browsing import chromium, processed_crashes, tab, ui  # noqa: F401  (fixtures)
from crashflow.aggregation.runner import run_job
from crashflow.crashids import create_crash_id
from crashflow.reports import report_row
from crashflow.stores.factory import Stores
from crashflow.stores.hbase import CrashTable
from crashflow.stores.postgres import Database

pytestmark = [pytest.mark.integration, pytest.mark.browser]

PAYLOADS = {
    "product": "<img src=x onerror=\"window.pwned='product'\">",
    "annotation": "<script>window.pwned='annotation'</script>",
    "signature": "<svg onload=\"window.pwned='signature'\"> | js::Run",
    "module": "<img src=y onerror=\"window.pwned='module'\">.dll",
    "function": "</td><script>window.pwned='function'</script>",
}
WIDTHS = (1024, 1920)


@pytest.fixture(scope="module")
def evil(stack, functions):
    """A crash whose annotations, signature, module and function names are markup: the
    real pipeline's crash, then its processed crash rewritten as a hostile dump and
    symbols would leave it, in HBase and Postgres."""
    crash_id, = processed_crashes(functions, "test.dmp", PAYLOADS["product"], Notes=PAYLOADS["annotation"])
    table = CrashTable(stack)
    processed = table.get_processed_crash(crash_id)
    processed["signature"] = PAYLOADS["signature"]
    dump = processed["json_dump"]
    dump["modules"][0]["filename"] = PAYLOADS["module"]
    for frame in dump["crashing_thread"]["frames"] + dump["threads"][0]["frames"]:
        frame["module"], frame["function"] = PAYLOADS["module"], PAYLOADS["function"]
        frame["inlines"] = [{"function": PAYLOADS["function"], "file": PAYLOADS["annotation"], "line": 1}]
    table.put_processed_crash(crash_id, None, processed)
    Database(stack).upsert_report(report_row(processed))
    return crash_id


@pytest.fixture(scope="module")
def plain(functions):
    product = f"UiPages{int(time.time())}"
    return product, processed_crashes(functions, "test.dmp", product, 2)[0]


def pages_of(crash_id: str, product: str) -> list[str]:
    signature = "test_app.exe"
    return [
        "/search/",
        f"/search/?product={product}&_facets=signature,platform,version",
        f"/search/?product={product}&_columns=uuid,date,signature,platform,uptime,cpu_count&_sort=-uptime",
        *[f"/signature/?signature={signature}&product={product}&tab={tab_name}"
          for tab_name in ("summary", "graph", "reports", "aggregations", "correlations", "bugs")],
        *[f"/report/index/{crash_id}?tab={tab_name}"
          for tab_name in ("details", "crashing", "threads", "modules", "raw", "addons", "correlations")],
        f"/topcrashers/?product={product}",
        "/topcrashers/",
        "/login/",
        "/",
        f"/home/product/{product}?days=28",
        "/documentation/",
        "/documentation/api/SuperSearch",
        "/documentation/api/symbols",
        "/documentation/datadictionary/",
        "/documentation/datadictionary/?document=processed_crash",
    ]


def test_no_console_errors_and_no_sideways_scrolling(tab, plain):
    product, crash_id = plain
    page = tab.page
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for path in pages_of(crash_id, product):
            tab.go(path)
            page.wait_for_load_state("networkidle")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (width, path, overflow)
            assert not re.search(r">\s*None\s*<", page.content()), path
    tab.expect_status(404)
    tab.go("/no/such/page", status=404)
    assert page.title().startswith("404 Not Found")


def test_the_graph_is_drawn(tab, plain):
    product, _ = plain
    page = tab.page
    tab.go(f"/signature/?signature=test_app.exe&product={product}&tab=graph")
    page.wait_for_selector(".chart canvas")
    days = page.locator("table.graph-table tbody tr")
    assert days.count() == 7  # every day of the window, empty ones as 0
    totals = [row.locator("td").last.inner_text() for row in days.all()]
    assert totals[:-1] == ["0"] * 6 and totals[-1] == "2"
    legend = page.locator(".u-legend").inner_text()
    assert "2.0" in legend and "--" not in legend  # no placeholder values while nothing is hovered
    # ... but the latest day's: today's 2 crashes of version 2.0.
    values = {item.locator(".u-label").inner_text(): item.locator(".u-value").inner_text()
              for item in page.locator(".u-legend .u-series").all()}
    assert values == {"Day": days.last.locator("th").inner_text(), "2.0": "2"}, values


def test_markup_in_crash_data_stays_text(tab, evil):
    page = tab.page
    page.on("dialog", lambda dialog: pytest.fail(f"a dialog opened: {dialog.message}"))
    paths = [f"/report/index/{evil}?tab={tab_name}" for tab_name in
             ("details", "crashing", "threads", "modules", "raw")]
    paths += [
        "/signature/?" + requests.compat.urlencode({"signature": PAYLOADS["signature"]}),
        "/signature/?" + requests.compat.urlencode({"signature": PAYLOADS["signature"], "tab": "reports"}),
        "/search/?" + requests.compat.urlencode({"product": "=" + PAYLOADS["product"], "_facets": "signature,product"}),
    ]
    for path in paths:
        tab.go(path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.pwned") is None, path
        assert page.locator("main script:not([type='application/json'])").count() == 0 and page.locator("main img").count() == 0
    tab.go(f"/report/index/{evil}?tab=crashing")
    assert PAYLOADS["function"] in page.locator("table.frames").inner_text()
    tab.go(f"/report/index/{evil}?tab=modules")
    assert PAYLOADS["module"] in page.locator("table.modules").inner_text()
    tab.go(f"/report/index/{evil}")
    assert page.locator("h1").inner_text() == PAYLOADS["signature"]
    tab.go(f"/report/index/{evil}?tab=raw")
    assert PAYLOADS["annotation"] in page.locator("table.values").first.inner_text()


@pytest.fixture(scope="module")
def correlated(stack):
    """Product P on Windows today: 10 crashes of "evil" carrying evil.dll, 10 of "plain"
    carrying ntdll.dll instead (both carry xul.dll), written as the processor writes them
    (a report row, a processed crash with its module list); then the correlations job."""
    product = f"UiCorr{int(time.time())}"
    now = dt.datetime.now(dt.timezone.utc)
    table, database = CrashTable(stack), Database(stack)
    for signature, module in (("evil | Run", "evil.dll"), ("plain | Run", "ntdll.dll")):
        for n in range(10):
            crash_id = create_crash_id(now)
            processed = {"uuid": crash_id, "signature": signature, "product": product, "version": "1.0",
                         "os_name": "Windows NT", "date_processed": (now - dt.timedelta(seconds=n)).isoformat(),
                         "json_dump": {"modules": [{"filename": "xul.dll"}, {"filename": module}]}}
            table.put_processed_crash(crash_id, {"submitted_timestamp": now.isoformat()}, processed)
            database.upsert_report(report_row(processed))
    run = run_job(Stores.from_settings(stack, "jobs"), "correlations", now.date())
    assert (run.status, run.error) == ("ok", None)
    return product


def correlation_rows(page) -> list[list[str]]:
    return [row.locator("td").all_inner_texts() for row in page.locator("table.correlations tbody tr").all()]


def test_the_correlations_tab_shows_the_jobs_rows(tab, correlated):
    product = correlated
    page = tab.page
    for signature, name in (("plain | Run", "ntdll.dll"), ("evil | Run", "evil.dll")):
        query = urllib.parse.urlencode({"signature": signature, "product": product, "tab": "correlations"})
        tab.go(f"/signature/?{query}")
        # All 10 crashes of the signature carry it, 10 of the product's 20 Windows crashes do;
        # xul.dll, which all carry, is no correlation.
        assert correlation_rows(page) == [[product, "Windows NT", "module", name, "100.0% (10)", "50.0% (10)"]]
        assert str(dt.datetime.now(dt.timezone.utc).date()) in page.locator(".tab-panel p").first.inner_text()
    # Another product's page of the same signature has none.
    tab.go("/signature/?" + urllib.parse.urlencode({"signature": "evil | Run", "product": product + "Other",
                                                     "tab": "correlations"}))
    assert not correlation_rows(page)
    assert "No correlations for this signature" in page.locator(".tab-panel").inner_text()
    tab.go(f"/signature/?{query}")  # the screenshot: the rows
