"""Super Search in Chromium: two filters, a facet, sorting, other columns, page 2 of 150+
results; and every page reachable and usable with the keyboard alone."""

from __future__ import annotations

import time
import urllib.parse

import pytest

from browsing import chromium, press_tab_until, processed_crashes, tab, ui  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CRASHES = 160


@pytest.fixture(scope="module")
def many(functions):
    """160 crashes of one product: 100 on Windows (test.dmp), 60 on Linux (linux-mini.dmp),
    all of version 3.1."""
    product = f"UiSearch{int(time.time())}"
    ids = processed_crashes(functions, "test.dmp", product, 100, Version="3.1")
    ids += processed_crashes(functions, "linux-mini.dmp", product, CRASHES - 100, Version="3.1")
    return product, ids


def choose_filter(page, index: int, field: str, operator: str, value: str) -> None:
    row = page.locator("[data-rows] [data-row]").nth(index)
    row.locator("[data-field]").select_option(field)
    row.locator("[data-operator]").select_option(label=operator)
    row.locator("[data-value]").fill(value)


def query(page) -> dict:
    return urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)


def test_two_filters_a_facet_sorting_columns_and_page_two(tab, many):
    product, ids = many
    page = tab.page
    tab.go("/search/")
    choose_filter(page, 0, "product", "is", product)
    page.get_by_role("button", name="Add a filter").click()
    choose_filter(page, 1, "version", "starts with", "3.")
    facets = page.locator("details.chooser").filter(has_text="Facets: counts by field")
    facets.locator("summary").click()
    facets.get_by_label("signature", exact=True).uncheck()
    facets.get_by_label("platform", exact=True).check()
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_url("**/search/?product=**")
    assert query(page) == {"product": [product], "version": ["^3."], "_facets": ["platform"],
                           "_columns": ["uuid,date,signature,product,version"], "_results_number": ["50"]}
    assert page.locator(".total").inner_text() == f"{CRASHES} crash reports match."
    platforms = page.locator("table.facet", has=page.get_by_text("By platform")).locator("tbody tr")
    counts = {row.locator("td").nth(0).inner_text(): row.locator("td").nth(1).inner_text()
              for row in platforms.all()}
    assert counts == {"Windows NT": "100", "Linux": "60"}

    # Sort by crash id, then newest-first becomes smallest-first.
    page.locator("table.hits thead").get_by_role("link", name="uuid").click()
    page.wait_for_url("**_sort=-uuid**")
    page.locator("table.hits thead").get_by_role("link", name="uuid").click()
    page.wait_for_url("**_sort=uuid**")

    # Other columns: platform in, version out.
    columns = page.locator("details.chooser").filter(has_text="Columns")
    columns.locator("summary").click()
    columns.get_by_label("platform", exact=True).check()
    columns.get_by_label("version", exact=True).uncheck()
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_url("**_columns=uuid%2Cdate%2Csignature%2Cproduct%2Cplatform**")
    headers = page.locator("table.hits thead th").all_inner_texts()
    assert [h.strip(" ▲▼") for h in headers] == ["uuid", "date", "signature", "product", "platform"]
    assert query(page)["_sort"] == ["uuid"]  # the sort survived the new columns

    page.locator("nav.pagination").first.get_by_role("link", name="2", exact=True).click()
    page.wait_for_url("**page=2**")
    assert page.locator("nav.pagination").first.inner_text().startswith(f"Results 51–100 of {CRASHES}")
    shown = page.locator("table.hits tbody tr td:first-child a").all_inner_texts()
    assert shown == sorted(ids)[50:100]


def test_keyboard_alone(tab, many):
    """Skip link, the builder, Enter to search, a facet link, the signature's tabs, a
    report: all without the mouse."""
    product, _ = many
    page = tab.page
    tab.go("/search/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    press_tab_until(page, "e => e.matches('[data-field]')")
    page.keyboard.type("product")  # a select picks the option typed
    assert page.locator("[data-field]").first.input_value() == "product"
    press_tab_until(page, "e => e.matches('[data-value]')")
    page.keyboard.type(product)
    page.keyboard.press("Enter")
    page.wait_for_url("**/search/?product=**")
    assert page.locator(".total").inner_text() == f"{CRASHES} crash reports match."

    follow = [
        ("e => e.closest('table.facet') && e.textContent === 'test_app.exe'", "**/signature/**"),
        ("e => e.closest('nav.tabs') && e.textContent === 'Reports'", "**tab=reports**"),
        ("e => e.matches('table.hits a[href^=\"/report/index/\"]')", "**/report/index/**"),
        ("e => e.closest('nav.tabs') && e.textContent === 'Modules'", "**tab=modules"),
    ]
    for predicate, url in follow:
        press_tab_until(page, predicate, limit=300)
        page.keyboard.press("Enter")
        page.wait_for_url(url)
    assert page.locator("table.modules").is_visible()
