"""Pure pieces of the overview pages: sparkline points, version order, chart series."""

from __future__ import annotations

import datetime as dt

from crashflow.api.overview import version_key, window
from crashflow.web.charts import top_versions, version_series
from crashflow.web.format import sparkline_points
from werkzeug.datastructures import MultiDict

import pytest
from crashflow.api.errors import BadRequest


def test_sparkline_spreads_days_and_puts_zero_at_the_bottom():
    assert sparkline_points([0, 5, 10], width=100, height=22) == "0,21 50,11 100,1"
    assert sparkline_points([0, 0]) == "0,23 120,23"  # nothing but zeros: a flat line at the bottom
    assert sparkline_points([7]) == "0,1"
    assert sparkline_points([]) == ""


def test_versions_sort_as_people_read_them():
    versions = ["1.0", "10.0", "2.0", "2.0b3", "2.0a1", "9.1", "2.0.1"]
    assert sorted(versions, key=version_key) == ["1.0", "2.0a1", "2.0b3", "2.0", "2.0.1", "9.1", "10.0"]


def test_version_series_fills_every_day_and_sums_the_rest():
    start, end = dt.date(2026, 11, 1), dt.date(2026, 11, 3)
    totals = {dt.date(2026, 11, 1): 5, dt.date(2026, 11, 3): 2}
    by_version = {dt.date(2026, 11, 1): {"2.0": 3, "1.0": 1, "0.9": 1}, dt.date(2026, 11, 3): {"2.0": 2}}
    graph = version_series(start, end, totals, by_version, ["2.0", "1.0"])
    assert graph["rows"] == [
        {"day": "2026-11-01", "counts": [3, 1], "other": 1, "total": 5},
        {"day": "2026-11-02", "counts": [0, 0], "other": 0, "total": 0},
        {"day": "2026-11-03", "counts": [2, 0], "other": 0, "total": 2},
    ]
    assert graph["has_other"] is True


def test_top_versions_by_count_then_newest():
    assert top_versions({"1.0": 5, "2.0": 5, "3.0": 1, "0.1": 9}, size=3) == ["0.1", "2.0", "1.0"]


def test_window_takes_the_preset_days_only():
    start, end = window(MultiDict({"days": "7", "end_date": "2026-11-30"}))
    assert (start, end) == (dt.date(2026, 11, 24), dt.date(2026, 11, 30))
    with pytest.raises(BadRequest):
        window(MultiDict({"days": "5"}))


class StubPage:
    """What base.html asks of a page, for rendering a template alone."""

    signed_in = False
    notices: list = []
    permissions = frozenset()
    current_url = "/"

    def static(self, name):
        return f"/assets/{name}"

    def nav_link(self, item):
        return item.path

    def may(self, permission):
        return False


def test_an_empty_install_says_how_to_send_the_first_crash():
    from crashflow.web.page import TEMPLATES

    html = TEMPLATES.get_template("home.html").render(
        page=StubPage(), version="0", nav="home", submit_url="http://crash.example:8001/submit",
        products={"hits": [], "start_date": "2026-11-24", "end_date": "2026-11-30", "total": 0},
        jobs={"as_of": None, "failed": [], "never": []})
    assert "No crashes in the last 7 days" in html and "<table" not in html
    assert "-F upload_file_minidump=@tests/data/minidumps/test.dmp" in html
    assert "http://crash.example:8001/submit" in html
    assert "No numbers yet: the aggregation jobs have not run" in html


def test_what_a_ranking_counts():
    from crashflow.api.topcrashers import count_expression

    assert count_expression(None, None) == "report_count"
    assert count_expression(None, "hang") == "hang_count"
    assert count_expression(None, "crash") == "(report_count - hang_count)"
    assert count_expression("win_count", None) == "win_count"
    assert count_expression("lin_count", "hang") == "lin_hang_count"
    assert count_expression("mac_count", "crash") == "(mac_count - mac_hang_count)"


def test_a_sparkline_names_its_counts_and_marks_the_last_day():
    from crashflow.web.format import sparkline

    svg = str(sparkline([0, 5, 10], "2026-11-28", what="Crashes <of> X"))
    assert 'data-counts="0,5,10"' in svg
    assert 'aria-label="Crashes &lt;of&gt; X per day from 2026-11-28: 0, 5, 10"' in svg
    assert '<polyline points="0,23 60,12 120,1" class="spark-line"/>' in svg
    assert svg.endswith('<circle cx="120" cy="1" r="2" class="spark-dot"/></svg>')
    assert "polyline" not in str(sparkline([4], "2026-11-30"))  # one day: a dot, no line


def test_the_product_home_window_nearest_to_a_top_crashers_window():
    from crashflow.web.overview import nearest_product_days

    assert [nearest_product_days(days) for days in (1, 3, 7, 14, 28)] == [7, 7, 7, 14, 28]


def test_top_crashers_rows_and_sort_come_from_the_url_or_are_refused():
    from crashflow.web.topcrashers import SORT_KEYS, rows_wanted, sort_order

    assert [rows_wanted(value) for value in ("", "50", "100", "300")] == [None, None, 100, 300]
    for bad in ("75", "1000", "all"):
        with pytest.raises(BadRequest, match="_results_number must be one of 50, 100, 200, 300"):
            rows_wanted(bad)
    assert sort_order("") is None
    assert sort_order("count") == ("count", False) and sort_order("-first_seen") == ("first_seen", True)
    with pytest.raises(BadRequest, match="_sort must be one of"):
        sort_order("-nonsense")
    new, up = {"rank_change": "new"}, {"rank_change": 3}
    assert sorted([new, up], key=SORT_KEYS["change"]) == [up, new]  # "new" above any rise


def test_header_links_carry_what_the_page_is_about():
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    from crashflow.web.page import NAV, Page

    class Session:
        token = None

        def take_notice(self):
            return None

    class App:
        services = None

    request = Request(EnvironBuilder(path="/home/product/Fx", query_string="days=14").get_environ())
    page = Page(App(), request, Session(), frozenset())
    page.context.update(product="Fx", days=14, date=[">=2026-11-17", "<2026-12-01"])
    links = {item.key: page.nav_link(item) for item in NAV}
    assert links["topcrashers"] == "/topcrashers/?product=Fx&days=14"
    assert links["search"] == "/search/?product=Fx&date=%3E%3D2026-11-17&date=%3C2026-12-01"
    assert links["home"] == "/"
    # What the query string says comes first.
    request = Request(EnvironBuilder(path="/topcrashers/", query_string="product=Tb&days=28&version=2.0").get_environ())
    page = Page(App(), request, Session(), frozenset())
    page.context.update(product="Fx")
    assert page.nav_link(NAV[1]) == "/search/?product=Tb&version=2.0"
