"""The overview in Chromium, on a product history aggregated by the real jobs
(``overview_history``) plus crashes sent through the real functions today:

home -> product home -> the chart (one point per day, the counts the test computed) -> a new
signature -> its signature page; top crashers' shares add up to 100% and match SuperSearch;
the regression and the explosive signature the test built appear where they should; an
admin makes a token in the browser, a second browser signs in with it and sees exactly its
permissions, the admin revokes it and the second browser is signed out on its next page;
the documentation's form runs a SuperSearch."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import requests

from browsing import SCREENSHOTS, VIEWPORT, chromium, processed_crashes, tab, ui  # noqa: F401  (fixtures)
from crashflow.aggregation.runner import run_job
from crashflow.stores.factory import Stores
from crashflow.stores.postgres import Database
from crashflow.tokens import TokenStore
from overview_history import JOBS, build_history, build_many_signatures

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture(scope="module")
def history(stack, functions):
    """The written history, and 3 crashes of test.dmp (test_app.exe, version 2.0) sent and
    processed today; the jobs run again over today after them."""
    history = build_history(stack, "UiOverview")
    sent = processed_crashes(functions, "test.dmp", history.product, 3)
    stores = Stores.from_settings(stack, "jobs")
    for job in JOBS:
        assert run_job(stores, job, history.today, history.today).status == "ok", job
    history.sent = sent
    return history


def expected_per_day(history, days: int) -> dict[str, int]:
    counts = history.per_day(days)
    counts[history.today.isoformat()] += len(history.sent)
    return counts


def test_home_to_product_home_to_chart_to_new_signature(tab, history):
    page = tab.page
    tab.go("/")
    product_row = page.locator("table.products tbody tr", has=page.get_by_role("link", name=history.product))
    cells = product_row.locator("td").all_inner_texts()
    seven = expected_per_day(history, 7)
    assert cells[0] == f"{sum(seven.values()):,}" and cells[2] == "2.1"
    assert product_row.locator("svg.spark").get_attribute("data-counts") == ",".join(map(str, seven.values()))
    product_row.get_by_role("link", name=history.product).click()

    page.wait_for_url(f"**/home/product/{history.product}")
    page.get_by_role("link", name="14 days").click()
    page.wait_for_url("**days=14")
    page.wait_for_selector(".chart .uplot canvas")  # uPlot drew the chart
    fourteen = expected_per_day(history, 14)
    rows = page.locator("#per-day-table tbody tr")
    assert rows.count() == 14  # one point a day, the empty ones too
    shown = {row.locator("th").inner_text(): int(row.locator("td").last.inner_text().replace(",", ""))
             for row in rows.all()}
    assert shown == fourteen
    # The chart's lines: the top versions, as many points as days.
    assert page.locator(".chart .u-legend .u-series").count() >= 2
    # Nothing hovered, the legend shows the latest day's values: the table's last row.
    page.mouse.move(0, 0)
    legend = {item.locator(".u-label").inner_text(): item.locator(".u-value").inner_text()
              for item in page.locator(".chart .u-legend .u-series").all()}
    headers = page.locator("#per-day-table thead th").all_inner_texts()
    latest = rows.last.locator("th, td").all_inner_texts()
    assert legend["Day"] == history.today.isoformat() == latest[0]
    series = {label: value for label, value in zip(headers[1:-1], latest[1:-1])}  # the lines (not the total)
    assert {label: value for label, value in legend.items() if label != "Day"} == series
    assert int(series["2.0"]) == len(history.sent) + 40  # today: the 40 fresh crashes and the 3 sent

    new_list = page.locator("table.new-list")
    listed = new_list.locator("tbody tr td:first-child").all_inner_texts()
    # First seen within these 14 days: fresh today, steady 13 days ago; back 20 days ago is not new.
    assert {history.signatures["fresh"], history.signatures["steady"]} <= set(listed)
    assert history.signatures["back"] not in listed
    new_list.get_by_role("link", name=history.signatures["fresh"]).click()
    page.wait_for_url("**/signature/**")
    assert page.locator("h1").inner_text() == history.signatures["fresh"]
    facts = page.locator(".page-head .facts").inner_text()
    assert facts.startswith(f"40 crashes of {history.product}"), facts


def test_regression_and_explosive_signatures_appear_on_the_product_home(tab, history):
    page = tab.page
    tab.go(f"/home/product/{history.product}")
    explosive = page.locator("table.explosive-list tbody tr")
    assert explosive.count() == 1
    cells = explosive.first.locator("td").all_inner_texts()
    assert cells[0] == history.signatures["fresh"] and cells[1] == history.today.isoformat()
    assert cells[2] == "40" and cells[3] == "4.0"
    regressions = page.locator("table.regression-list tbody tr")
    assert regressions.count() == 1
    cells = regressions.first.locator("td").all_inner_texts()
    assert cells[0] == history.signatures["back"]
    assert cells[1] == (history.today - dt.timedelta(days=1)).isoformat() and cells[2] == "2.1"
    assert cells[3].startswith((history.today - dt.timedelta(days=20)).isoformat()) and "18 quiet days" in cells[3]
    # The steady signature crashed all along: neither new, explosive nor back.
    for listing in ("new-list", "explosive-list", "regression-list"):
        assert history.signatures["steady"] not in page.locator(f"table.{listing}").inner_text()
    assert page.locator("p.as-of").inner_text().startswith("Numbers as of")
    for width in (1024, 1400, 1920):  # every list fits: the page never scrolls sideways
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0, width
    page.set_viewport_size(VIEWPORT)


def test_top_crashers_shares_add_up_and_match_supersearch(tab, history, ui):
    page = tab.page
    tab.go("/topcrashers/")
    page.get_by_label("Product").select_option(history.product)
    page.get_by_label("Days").select_option("7")
    page.get_by_role("button", name="Show").click()
    page.wait_for_selector("table.ranking tbody tr")
    rows = page.locator("table.ranking tbody tr")
    ranking = {}
    shares = []
    for row in rows.all():
        cells = row.locator("td").all_inner_texts()
        ranking[cells[2]] = int(cells[3].replace(",", ""))
        assert re.fullmatch(r"\d+\.\d%|<0\.1%", cells[4]), cells[4]
        shares.append(float(cells[4].rstrip("%").lstrip("<")))
        assert row.locator("svg.spark").count() == 1
    assert abs(sum(shares) - 100) <= 0.05 * len(shares)
    start = history.today - dt.timedelta(days=6)
    search = requests.get(f"{ui.url}/api/SuperSearch/", params={
        "product": history.product, "date": [f">={start}", f"<{history.today + dt.timedelta(days=1)}"],
        "_facets": "signature", "_results_number": 0}, timeout=60).json()
    assert ranking == {bucket["term"]: bucket["count"] for bucket in search["facets"]["signature"]}
    # First seen and the new signature's tag.
    fresh = rows.filter(has=page.get_by_role("link", name=history.signatures["fresh"]))
    assert fresh.locator("td").nth(1).inner_text() == "new"
    assert fresh.locator("td").nth(8).inner_text() == history.today.isoformat()
    assert fresh.locator("td").nth(6).inner_text() == "startup 10"
    assert fresh.locator("td").nth(5).inner_text() == "Win 0 · Mac 0 · Lin 40"
    # Installs: the steady signature's one installation on each of 7 days; none known of the
    # fresh signature's crashes (they carry no install time): a dash, not 0.
    steady = rows.filter(has=page.get_by_role("link", name=history.signatures["steady"]))
    assert steady.locator("td").nth(7).inner_text() == "7"
    assert fresh.locator("td").nth(7).inner_text() == "—"
    # Sorting by Crashes, ascending then descending.
    page.get_by_role("button", name="Crashes").click()
    counts = [int(text.replace(",", "")) for text in page.locator("table.ranking tbody tr td:nth-child(4)").all_inner_texts()]
    assert counts == sorted(counts)
    page.get_by_role("button", name="Crashes").click()
    counts = [int(text.replace(",", "")) for text in page.locator("table.ranking tbody tr td:nth-child(4)").all_inner_texts()]
    assert counts == sorted(counts, reverse=True)


@pytest.fixture(scope="module")
def many_signatures(stack, history):
    """55 signatures of a product of their own, crashing today (after ``history``, whose
    jobs' runs it would otherwise make stale)."""
    return build_many_signatures(stack, "UiMany", 55)


def shares_of(page) -> list[float]:
    return [float(text.rstrip("%").lstrip("<"))
            for text in page.locator("table.ranking tr td:nth-child(5)").all_inner_texts()]


def test_top_crashers_say_what_the_rows_cover_and_show_more_on_demand(tab, many_signatures):
    product, crashes = many_signatures
    total = sum(crashes.values())
    top = sorted(crashes.values(), reverse=True)[:50]
    page = tab.page
    tab.go(f"/topcrashers/?product={product}&days=7")
    assert page.locator("table.ranking tbody tr").count() == 50
    coverage = page.locator("p.coverage").inner_text()
    assert coverage.startswith(f"Showing the top 50 of 55 signatures: {100 * sum(top) / total:.1f}% of the crashes"), coverage
    others = page.locator("table.ranking tfoot tr").inner_text()
    assert "The other 5 signatures" in others and f"{total - sum(top)}" in others
    # The shown rows and the rest: 100%.
    assert abs(sum(shares_of(page)) - 100) <= 0.05 * 51
    page.locator("p.coverage").get_by_role("link", name="100").click()
    page.wait_for_url("**_results_number=100**")
    assert page.locator("table.ranking tbody tr").count() == 55
    assert page.get_by_label("Rows").input_value() == "100"
    assert page.locator("p.coverage").inner_text() == "All 55 signatures shown: 100% of the crashes."
    assert not page.locator("table.ranking tfoot").count()
    assert abs(sum(shares_of(page)) - 100) <= 0.05 * 55
    tab.expect_status(400)
    tab.go(f"/topcrashers/?product={product}&_results_number=75", status=400)


# Whether a text's words (split at spaces) each lie on one line: a word laid out on two
# lines has two boxes.
WORDS_ON_ONE_LINE = """(cell) => {
    const text = cell.querySelector("a").firstChild;
    const broken = [];
    let at = 0;
    for (const word of text.data.split(" ")) {
        const range = document.createRange();
        range.setStart(text, at);
        range.setEnd(text, at + word.length);
        if (word && range.getClientRects().length > 1) broken.push(word);
        at += word.length + 1;
    }
    return broken;
}"""


def test_top_crashers_fit_1024_pixels_and_break_signatures_between_frames(tab, many_signatures):
    product, _ = many_signatures
    page = tab.page
    page.set_viewport_size({"width": 1024, "height": 900})
    tab.go(f"/topcrashers/?product={product}&days=7")
    table = page.locator("table.ranking")
    # No scrolling inside the page either: the whole table, "Per day" included, is in view.
    assert table.evaluate("t => t.scrollWidth - t.parentElement.clientWidth") <= 0
    per_day = page.get_by_role("columnheader", name="Per day")
    box = per_day.bounding_box()
    assert box["x"] + box["width"] <= 1024 - 15
    for cell in page.locator("table.ranking tbody td.signature").all()[:20]:
        assert cell.evaluate(WORDS_ON_ONE_LINE) == [], cell.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "top_crashers_1024.png"))
    page.set_viewport_size(VIEWPORT)


def test_top_crashers_sort_is_in_the_address(tab, history):
    page = tab.page
    tab.go(f"/topcrashers/?product={history.product}&days=7")
    page.get_by_role("button", name="Crashes").click()
    page.wait_for_url("**_sort=count**")
    page.get_by_role("button", name="Crashes").click()
    page.wait_for_url("**_sort=-count**")
    assert page.get_by_label("Rows").evaluate("select => select.form.elements._sort.value") == "-count"
    # Opened again (a bookmark): sorted so, and the header says it.
    tab.go(f"/topcrashers/?product={history.product}&days=7&_sort=count")
    counts = [int(text.replace(",", "")) for text in page.locator("table.ranking tbody tr td:nth-child(4)").all_inner_texts()]
    assert counts == sorted(counts) and counts != sorted(counts, reverse=True)
    assert page.locator("th[data-sort-key=count][aria-sort]").get_attribute("aria-sort") == "ascending"
    page.get_by_role("button", name="Signature").click()
    page.wait_for_url("**_sort=signature**")
    assert "_sort=count" not in page.url
    tab.expect_status(400)
    tab.go(f"/topcrashers/?product={history.product}&_sort=nonsense", status=400)


def test_top_crashers_without_a_product_open_the_busiest_one(tab, ui):
    busiest = requests.get(f"{ui.url}/api/Products/", params={"days": 28}, timeout=60).json()["hits"][0]["product"]
    page = tab.page
    tab.go("/topcrashers/?days=14")
    assert page.url.endswith(f"/topcrashers/?days=14&product={busiest}")
    assert page.locator("h1").inner_text() == f"Top crashers of {busiest}"
    assert page.locator("table.ranking").is_visible()


def test_links_keep_the_product_and_the_window(tab, history):
    page = tab.page
    tab.go(f"/home/product/{history.product}?days=14")
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Top crashers").get_attribute("href") == \
        f"/topcrashers/?product={history.product}&days=14"
    search = nav.get_by_role("link", name="Super Search").get_attribute("href")
    start, after = history.today - dt.timedelta(days=13), history.today + dt.timedelta(days=1)
    assert search == f"/search/?product={history.product}&date=%3E%3D{start}&date=%3C{after}"
    for days, home_days in ((28, 28), (14, 14), (3, 7), (1, 7)):
        tab.go(f"/topcrashers/?product={history.product}&days={days}")
        home = page.get_by_role("link", name=f"{history.product}'s home")
        assert home.get_attribute("href") == f"/home/product/{history.product}?days={home_days}"
    home.click()
    page.wait_for_url(f"**/home/product/{history.product}?days=7")


def test_an_unknown_product_is_a_404_page_naming_the_known_ones(tab, history, ui):
    tab.expect_status(404)
    page = tab.page
    for path in ("/topcrashers/?product=NoSuchProduct&days=7", "/home/product/NoSuchProduct"):
        tab.go(path, status=404)
        assert page.title().startswith("404 Not Found")
        assert "NoSuchProduct" in page.locator(".error-message").inner_text()
        known = page.locator(".known-products")
        known.get_by_role("link", name=history.product, exact=True).click()
        page.wait_for_url(f"**/home/product/{history.product}")
    # The API answers as it always has: an empty ranking.
    answer = requests.get(f"{ui.url}/api/TopCrashers/", params={"product": "NoSuchProduct"}, timeout=60)
    assert answer.status_code == 200 and answer.json()["crashes"] == []


def test_the_top_crashers_form_fields_show_their_placeholders_whole(tab, history):
    page = tab.page
    for width in (1024, 1400):
        page.set_viewport_size({"width": width, "height": 900})
        tab.go(f"/topcrashers/?product={history.product}")
        for name in ("version", "process_type"):
            field = page.locator(f'form.filters-bar input[name="{name}"]')
            # The placeholder typed in: wider than the field, it would scroll (and show cut).
            needed, room = field.evaluate("""(input) => {
                const kept = input.value;
                input.value = input.placeholder;
                const sizes = [input.scrollWidth, input.clientWidth];
                input.value = kept;
                return sizes;
            }""")
            assert needed <= room, (name, width, needed, room)
    page.set_viewport_size(VIEWPORT)


def test_chart_axes_are_as_wide_as_their_labels(tab, history):
    """With counts in the tens of thousands (the chart given bigger numbers), every y-axis
    label fits in its axis: "14,000" is not cut to "4,000"."""
    page = tab.page
    for width in (1024, 1400):
        page.set_viewport_size({"width": width, "height": 900})
        tab.go(f"/home/product/{history.product}?days=7")
        page.wait_for_selector(".chart .uplot canvas")
        fit = page.locator(".chart").first.evaluate("""async (element) => {
            const plot = element.uplot;
            plot.setData(plot.data.map((series, index) => index ? series.map((count) => count * 1000 + 12000) : series));
            await new Promise((drawn) => requestAnimationFrame(() => setTimeout(drawn, 50)));  // uPlot redraws later
            const axis = element.uplot.axes[1];
            const context = document.createElement("canvas").getContext("2d");
            context.font = Array.isArray(axis.font) ? axis.font[0] : axis.font;
            const widest = Math.max(...axis._values.map((label) => context.measureText(label).width)) / devicePixelRatio;
            return {labels: axis._values, widest, room: axis._size - axis.ticks.size - axis.gap};
        }""")
        assert any(len(label) >= 6 for label in fit["labels"]), fit  # 10,000 or more
        assert fit["widest"] <= fit["room"], fit
        page.locator(".chart").first.screenshot(path=str(SCREENSHOTS / f"product_home_chart_{width}.png"))
    page.set_viewport_size(VIEWPORT)


def sign_in(page, base: str, token: str) -> None:
    page.goto(f"{base}/login/?next=/tokens/")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/tokens/")


def test_admin_makes_a_token_another_browser_uses_it_and_revocation_signs_it_out(tab, chromium, stack, ui):
    admin_token = TokenStore(Database(stack)).create(["manage_tokens"], note="browser admin")
    page = tab.page
    sign_in(page, ui.url, admin_token)
    note = f"Triage engineer {dt.datetime.now().timestamp()}"
    page.get_by_label("view_pii").check()
    page.get_by_label("reprocess_crashes").check()
    page.get_by_label("Expires after").select_option("30")
    page.get_by_label("For whom or what").fill(note)
    page.get_by_role("button", name="Make token").click()
    page.wait_for_selector(".new-token")
    new_token = page.locator("#new-token").input_value()
    assert re.fullmatch(r"[0-9a-f]{64}", new_token)

    other = chromium.new_context(viewport=VIEWPORT)
    problems = []
    try:
        second = other.new_page()
        second.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        sign_in(second, ui.url, new_token)
        permissions = second.locator(".my-permissions code").all_inner_texts()
        assert permissions == ["reprocess_crashes", "view_pii"]
        assert "expires" in second.locator(".my-token").inner_text()
        assert not second.get_by_role("button", name="Make token").count()

        # The list never shows a token again; the admin revokes the new one.
        page.goto(f"{ui.url}/tokens/")
        assert new_token not in page.content()
        row = page.locator("table.tokens tbody tr", has=page.get_by_text(note))
        row.get_by_role("button", name="Revoke").click()
        page.wait_for_load_state()
        assert "revoked" in page.locator(".notice").inner_text()
        trail = page.locator("table.token-events tbody").inner_text()
        assert "revoked token" in trail and "made token" in trail and "browser admin" in trail

        second.goto(f"{ui.url}/search/")
        assert "You were signed out: your token was revoked" in second.locator(".notice").inner_text()
        assert second.get_by_role("link", name="Sign in").is_visible()
        second.screenshot(path=str(SCREENSHOTS / "test_revoked_token_signed_out_second_browser.png"), full_page=True)
    finally:
        other.close()
    assert not problems, problems
    page.goto(f"{ui.url}/tokens/")  # the screenshot: the list and its changes


def test_an_admin_cannot_revoke_the_token_they_are_signed_in_with(tab, stack, ui):
    store = TokenStore(Database(stack))
    admin_token = store.create(["manage_tokens"], note="lone admin")
    my_id = store.info(admin_token).id
    page = tab.page
    sign_in(page, ui.url, admin_token)
    mine = page.locator(f'table.tokens tbody tr[data-token-id="{my_id}"]')
    assert not mine.get_by_role("button", name="Revoke").count()
    assert "signed in with it" in mine.inner_text()
    # Asked all the same (a form of another tab, a crafted request): refused, and said why.
    csrf = page.locator('input[name="csrf_token"]').first.input_value()
    answer = page.request.post(f"{ui.url}/tokens/revoke/{my_id}", form={"csrf_token": csrf}, max_redirects=0)
    assert answer.status == 303
    page.goto(f"{ui.url}/tokens/")
    notice = page.locator(".notice").inner_text()
    assert f"Token #{my_id} is the one you are signed in with" in notice and "would lock you out" in notice
    assert store.info(admin_token).live
    assert page.get_by_role("button", name="Make token").is_visible()  # still signed in, still an admin


@pytest.fixture
def empty_install(functions):
    """A query function over a namespace of its own where nothing was ever sent."""
    from conftest import TEST_NAMESPACE, provision_fresh, start_query_server

    from crashflow.settings import Settings

    settings = provision_fresh(Settings(namespace=f"{TEST_NAMESPACE}empty"))
    server = start_query_server(settings, functions)
    yield settings, server
    server.stop()


def test_an_empty_install_says_how_to_send_the_first_crash(tab, empty_install):
    settings, server = empty_install
    page = tab.page
    answer = page.goto(f"{server.url}/")
    assert answer.status == 200
    assert page.locator("h2").filter(has_text="No crashes in the last 7 days").is_visible()
    assert not page.locator("table.products").count()
    line = page.locator(".empty-install pre").inner_text()
    # The README's curl line, aimed at this machine's collect function.
    assert line.startswith("curl -F ProductName=MyApp -F Version=1.0"), line
    assert "-F upload_file_minidump=@tests/data/minidumps/test.dmp" in line
    assert line.rstrip().endswith(f"http://127.0.0.1:{settings.collect_port}/submit"), line
    # Shown as its three lines (an inline element has a box per line it is laid out on, and
    # Chromium adds an empty one for each line break): none wraps, which would leave a "\"
    # on a line of its own.
    lines = page.locator(".empty-install pre code").evaluate(
        "e => new Set([...e.getClientRects()].filter((box) => box.width > 0).map((box) => Math.round(box.top))).size")
    assert lines == 3
    assert "crashflow submit tests/data/minidumps/test.dmp" in page.locator(".empty-install").inner_text()


def test_the_documentation_form_runs_a_supersearch(tab, history):
    page = tab.page
    tab.go("/documentation/")
    page.get_by_role("link", name="/api/SuperSearch/").click()
    page.wait_for_url("**/documentation/api/SuperSearch")
    assert page.locator("pre.example-answer").inner_text().lstrip().startswith("{")
    product_value = page.get_by_label("Value of product")
    product_value.fill(history.product)
    page.get_by_role("button", name="Run").click()
    # A locator waits without evaluating strings (the pages' policy forbids eval).
    page.locator("[data-try-output]").filter(has_text='"total"').wait_for()
    assert page.locator("[data-try-status]").inner_text().startswith("200 ")
    answer = json.loads(page.locator("[data-try-output]").inner_text())
    # The example asks for the crashes since a week ago: 8 UTC days, today included.
    assert answer["total"] == sum(expected_per_day(history, 8).values())
    assert {bucket["term"] for bucket in answer["facets"]["version"]} == {"1.0", "2.0", "2.1"}

    page.screenshot(path=str(SCREENSHOTS / "test_documentation_supersearch_try_it.png"), full_page=True)

    tab.go("/documentation/datadictionary/")
    assert page.locator("table.dictionary tbody tr#field-signature").is_visible()
