"""The triage path in Chromium: top crashers -> signature (product kept, counts agree) ->
report -> back; a pending crash's page becoming its report; Reprocess from the report."""

from __future__ import annotations

import datetime as dt
import re
import time
import urllib.parse

import pytest
import requests

from browsing import chromium, processed_crashes, tab, ui  # noqa: F401  (fixtures)
from conftest import start_query_server, submit, take_message
from crashflow.aggregation.runner import run_job
from crashflow.stores.factory import Stores
from crashflow.stores.postgres import Database
from crashflow.tokens import TokenStore

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture(scope="module")
def triage(stack, functions):
    """Product P with 5 crashes of test_app.exe and 3 of another signature; the same
    signature 4 more times in another product; top crashers computed for today."""
    product = f"UiTriage{int(time.time())}"
    ours = processed_crashes(functions, "test.dmp", product, 5)
    processed_crashes(functions, "linux-mini.dmp", product, 3)
    processed_crashes(functions, "test.dmp", f"{product}Elsewhere", 4)
    run = run_job(Stores.from_settings(stack, "jobs"), "top_crashers", dt.datetime.now(dt.timezone.utc).date())
    assert run.status == "ok", run.error
    return product, ours


def test_top_crashers_to_signature_to_report_and_back(tab, triage):
    product, ours = triage
    page = tab.page
    tab.go(f"/topcrashers/?product={product}&days=7")
    row = page.locator("table.ranking tbody tr", has=page.get_by_role("link", name="test_app.exe"))
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == "1" and cells[3] == "5" and cells[4] == "62.5%"  # 5 of the product's 8
    row.get_by_role("link", name="test_app.exe").click()

    page.wait_for_url("**/signature/**")
    params = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)
    assert params["product"] == [product] and params["signature"] == ["test_app.exe"]
    facts = page.locator(".page-head .facts").inner_text()
    assert re.match(rf"5 crashes of {product} · the last 7 days", facts), facts
    products = page.locator("table.facet", has=page.get_by_text("Product", exact=True)).locator("tbody tr")
    assert products.count() == 1 and products.first.locator("td").all_inner_texts()[:3] == [product, "5", "100.0%"]

    page.get_by_role("link", name="Reports", exact=True).click()
    page.wait_for_url("**tab=reports**")
    links = page.locator("table.hits tbody a[href^='/report/index/']")
    assert sorted(links.all_inner_texts()) == sorted(ours)
    signature_url = page.url
    links.first.click()

    page.wait_for_url("**/report/index/**")
    assert page.locator("h1").inner_text() == "test_app.exe"
    assert page.get_by_text(f"{product} 2.0").is_visible()
    signature_link = page.locator("h1 a").get_attribute("href")
    assert f"product={product}" in signature_link  # back to the signature, product kept
    page.get_by_role("link", name="Crashing thread").click()
    assert "no symbols for test_app.exe" in page.locator("table.frames").inner_text()

    page.go_back()
    page.go_back()
    assert page.url == signature_url
    assert page.locator("table.hits").is_visible()


@pytest.fixture(scope="module")
def impatient_ui(stack, functions):
    """A query function that answers "pending" at once while it processes in the background."""
    server = start_query_server(stack, functions, priority_wait_seconds=0.001, api_rate_limit_per_minute=0)
    yield server
    server.stop()


def test_a_pending_crash_turns_into_its_report_without_a_reload(tab, functions, impatient_ui):
    crash_id = submit(functions, "linux-mini.dmp", "UiPending")
    page = tab.page
    answer = page.goto(f"{impatient_ui.url}/report/index/{crash_id}")
    assert answer.status == 202
    assert "being processed" in page.get_by_role("status").inner_text()
    page.evaluate("window.loadedOnce = true")  # gone if the page were loaded again
    page.wait_for_selector("body[data-page=report]", timeout=60_000)
    assert page.evaluate("window.loadedOnce") is True
    assert page.locator("h1").inner_text() == "crash"
    assert crash_id in page.locator(".kicker").inner_text()
    page.get_by_role("link", name="Modules").click()  # and it works as the report does
    page.wait_for_url("**tab=modules")


def test_reprocess_from_the_report_page(tab, stack, functions, triage):
    _, ours = triage
    crash_id = ours[0]
    token = TokenStore(Database(stack)).create(["reprocess_crashes"], note="browser test")
    page = tab.page
    tab.go(f"/login/?next=/report/index/{crash_id}")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/report/index/{crash_id}")
    assert not page.get_by_text("Processing history").count()

    page.get_by_role("button", name="Reprocess").click()
    page.wait_for_load_state()
    assert "Queued for reprocessing" in page.locator(".notice").inner_text()
    # What the relay does: take the message off the reprocessing queue, deliver it.
    assert take_message(stack, "reprocessing", crash_id, timeout=20)
    answer = requests.post(f"{functions['process'].url}/process", params={"crash_id": crash_id}, timeout=120)
    assert answer.status_code == 200
    page.reload()
    history = page.locator("table.details tr", has=page.get_by_text("Processing history"))
    assert history.locator("li").count() == 2  # the first run, then this result
    latest = history.locator("li").last.inner_text()
    assert "default rules" in latest and "(this result)" in latest, latest
