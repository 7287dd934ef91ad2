"""The overview endpoints and pages over HTTP, on a product history written into the test
namespace's ``reports`` and aggregated by the real jobs (``overview_history``): Products,
NewSignatures, ExplosiveSignatures, Regressions, TopCrashers' daily counts, first dates and
bugs; home, product home, top crashers, tokens and documentation pages; the documentation
covering every API route and parameter."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import requests

from conftest import start_query_server
from crashflow import query_app
from crashflow.stores.postgres import Database
from crashflow.tokens import TokenStore
from crashflow.web import documentation
from overview_history import build_history, record_run

pytestmark = pytest.mark.integration

BROWSER = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def history(stack):
    return build_history(stack, "OverviewApi")


@pytest.fixture(scope="module")
def server(stack, functions, history):
    server = start_query_server(stack, functions, api_rate_limit_per_minute=0, api_token_rate_limit_per_minute=0,
                                api_token_cache_seconds=0)
    yield server
    server.stop()


def get(server, path, status=200, headers=None, **params):
    answer = requests.get(f"{server.url}{path}", params=params, headers=headers or {}, timeout=60)
    assert answer.status_code == status, (path, answer.status_code, answer.text[:400])
    return answer


def test_products_counts_every_day_and_names_the_newest_version(server, history):
    body = get(server, "/api/Products/", days=7).json()
    ours = next(hit for hit in body["hits"] if hit["product"] == history.product)
    assert {day["date"]: day["count"] for day in ours["days"]} == history.per_day(7)
    assert ours["total"] == sum(history.per_day(7).values())
    assert ours["newest_version"] == "2.1"  # 2.1 after 2.0 after 1.0
    assert [item["version"] for item in ours["versions"]] == ["2.1", "2.0", "1.0"]
    assert get(server, "/api/Products/", status=400, days=5).json()["error"].startswith("days must be one of")


def test_new_explosive_and_returning_signatures(server, history):
    product, signatures = history.product, history.signatures
    new = get(server, "/api/NewSignatures/", product=product, days=7).json()
    assert [hit["signature"] for hit in new["hits"]] == [signatures["fresh"]]
    assert new["hits"][0]["count"] == 40 and new["hits"][0]["daily"] == [0] * 6 + [40]

    explosive = get(server, "/api/ExplosiveSignatures/", product=product, days=7).json()
    assert [hit["signature"] for hit in explosive["hits"]] == [signatures["fresh"]]
    hit = explosive["hits"][0]
    assert hit["date"] == history.today.isoformat() and hit["count"] == 40
    assert hit["oneday"] == 4.0  # 40 crashes against nine empty days, over the floor of 10
    assert explosive["threshold"] == 3.0

    back = get(server, "/api/Regressions/", product=product, days=7).json()
    assert [hit["signature"] for hit in back["hits"]] == [signatures["back"]]
    hit = back["hits"][0]
    assert hit["versions"] == ["2.1"] and hit["count"] == 2 and hit["quiet_days"] == 18
    assert hit["back_on"] == (history.today - dt.timedelta(days=1)).isoformat()
    assert hit["last_seen"] == (history.today - dt.timedelta(days=20)).isoformat()
    # A window that holds its first crashes too: not a return.
    assert get(server, "/api/Regressions/", product=product, days=28).json()["hits"] == []
    # Quiet for 18 days: not a regression when 20 are asked for.
    assert get(server, "/api/Regressions/", product=product, days=7, quiet_days=20).json()["hits"] == []


def test_top_crashers_carry_daily_counts_first_dates_and_bugs(server, history, stack):
    with Database(stack).connection() as connection:
        connection.run("INSERT INTO bugs (id, status) VALUES (990001, 'NEW') ON CONFLICT DO NOTHING")
        connection.run("INSERT INTO bug_associations (bug_id, signature) VALUES (990001, :signature) "
                       "ON CONFLICT DO NOTHING", signature=history.signatures["steady"])
        record_run(connection, "bug_associations")
    body = get(server, "/api/TopCrashers/", product=history.product, days=7, end_date=history.today.isoformat()).json()
    crashes = {crash["signature"]: crash for crash in body["crashes"]}
    steady, fresh = crashes[history.signatures["steady"]], crashes[history.signatures["fresh"]]
    assert steady["daily"] == [2] * 7 and fresh["daily"] == [0] * 6 + [40]
    assert steady["bugs"] == [990001] and fresh["bugs"] == []
    assert fresh["first_date"].startswith(history.today.isoformat())
    assert sum(crash["count"] for crash in body["crashes"]) == body["total"]
    assert fresh["startup_count"] == 10 and steady["startup_count"] == 0
    assert steady["install_count"] == 7 and fresh["install_count"] == 0

    by_type = {kind: get(server, "/api/TopCrashers/", product=history.product, days=7, report_type=kind).json()
               for kind in ("hang", "crash")}
    assert [(c["signature"], c["count"]) for c in by_type["hang"]["crashes"]] == [(history.signatures["back"], 2)]
    assert history.signatures["back"] not in {c["signature"] for c in by_type["crash"]["crashes"]}
    assert by_type["crash"]["total"] + by_type["hang"]["total"] == body["total"]


def test_top_crashers_say_how_many_signatures_the_window_has(server, history):
    """``signatures`` counts every signature of the window, the shown ones and the rest."""
    full = get(server, "/api/TopCrashers/", product=history.product, days=7).json()
    top = get(server, "/api/TopCrashers/", product=history.product, days=7, _results_number=1).json()
    assert full["signatures"] == len(full["crashes"]) == len(history.per_signature(7))
    assert top["signatures"] == full["signatures"] and len(top["crashes"]) == 1
    assert top["total"] == full["total"]


def test_unknown_products_are_404_pages_and_the_api_answers_as_before(server, history):
    for path, params in (("/topcrashers/", {"product": "NoSuchProduct"}), ("/home/product/NoSuchProduct", {})):
        page = get(server, path, status=404, headers=BROWSER, **params).text
        assert "<title>404 Not Found" in page and "NoSuchProduct" in page
        assert f'<a href="/home/product/{history.product}">{history.product}</a>' in page
    assert get(server, f"/home/product/{history.product}", headers=BROWSER).status_code == 200
    assert get(server, "/api/TopCrashers/", product="NoSuchProduct").json()["crashes"] == []


def test_top_crashers_of_one_report_type_on_one_platform(server, history):
    """The steady crashes and the back signature's hangs are on Windows, the fresh crashes on Linux."""
    def ranking(**filters):
        body = get(server, "/api/TopCrashers/", product=history.product, days=7, **filters).json()
        return [(crash["signature"], crash["count"], crash["daily"]) for crash in body["crashes"]], body["total"]

    steady, fresh, back = (history.signatures[name] for name in ("steady", "fresh", "back"))
    assert ranking(platform="win", report_type="hang") == ([(back, 2, [0] * 5 + [2, 0])], 2)
    assert ranking(platform="win", report_type="crash") == ([(steady, 14, [2] * 7)], 14)
    assert ranking(platform="lin", report_type="crash") == ([(fresh, 40, [0] * 6 + [40])], 40)
    assert ranking(platform="lin", report_type="hang") == ([], 0)
    assert ranking(platform="win")[1] == 16 and ranking(report_type="any", platform="win") == ranking(platform="win")

    page = get(server, "/topcrashers/", headers=BROWSER, product=history.product, days=7, platform="win",
               report_type="hang").text
    assert "2 crashes from" in page and "counted on one platform, hang reports only" in page
    assert back in page and steady not in page


def test_home_lists_the_product_with_its_trend_and_newest_version(server, history):
    html = get(server, "/", headers=BROWSER).text
    row = re.search(rf'<tr>\s*<th scope="row"><a href="/home/product/{history.product}">.*?</tr>', html, re.S).group(0)
    counts = ",".join(str(count) for count in history.per_day(7).values())
    assert f'data-counts="{counts}"' in row and "<td>2.1</td>" in row


def test_product_home_shows_the_chart_table_and_the_lists(server, history):
    html = get(server, f"/home/product/{history.product}", headers=BROWSER, days=14).text
    totals = dict(re.findall(r'<th scope="row" data-day="([\d-]+)">.*?data-total="(\d+)"', html))
    assert {day: int(count) for day, count in totals.items()} == history.per_day(14)
    for name in ("fresh", "back", "steady"):
        assert history.signatures[name] in html
    assert "Numbers as of" in html
    refused = get(server, f"/home/product/{history.product}", status=400, headers=BROWSER, days=9)
    assert "days must be one of 7, 14, 28" in refused.text


def test_a_failed_job_run_is_announced_on_the_product_home(server, history, stack):
    with Database(stack).connection() as connection:
        connection.run("INSERT INTO job_runs (job, window_start, window_end, started, finished, status, error) "
                       "VALUES ('explosiveness', :day, :day, now() + interval '1 hour', now() + interval '1 hour', "
                       "'failed', 'the test broke it')", day=history.today)
    try:
        html = get(server, f"/home/product/{history.product}", headers=BROWSER).text
        assert "The last run of the <code>explosiveness</code> job" in html and "the test broke it" in html
    finally:
        with Database(stack).connection() as connection:
            connection.run("DELETE FROM job_runs WHERE error = 'the test broke it'")


def test_tokens_page_needs_sign_in_and_manage_tokens_to_make_one(server, stack):
    store = TokenStore(Database(stack))
    plain = store.create(["view_pii"], note="overview plain")
    assert get(server, "/tokens/", headers=BROWSER).url.endswith("/login/?next=%2Ftokens%2F")
    html = get(server, "/tokens/", headers={**BROWSER, "Auth-Token": plain}).text
    assert "view_pii" in html and "Make a token" not in html
    refused = requests.post(f"{server.url}/tokens/", headers={**BROWSER, "Auth-Token": plain},
                            data={"note": "x", "permission": "view_pii"}, timeout=30)
    assert refused.status_code == 403  # no CSRF token: refused before anything else


def test_the_documentation_covers_every_api_route_and_its_parameters(server):
    routed = {route.path for route in query_app.API_ROUTES}
    assert {endpoint.path for endpoint in documentation.ENDPOINTS} == routed
    for endpoint in documentation.ENDPOINTS:
        page = get(server, f"/documentation/api/{endpoint.name}", headers=BROWSER).text
        assert endpoint.summary.replace("'", "&#39;")[:40] in page, endpoint.path
        if endpoint.method != "GET" or not endpoint.live:
            continue
        for param in endpoint.params:
            if param.name.startswith("<"):
                continue
            answer = requests.get(f"{server.url}{endpoint.path}", params={param.name: "x"}, timeout=30)
            assert "unknown parameter" not in answer.text, (endpoint.path, param.name)
        assert "This install's answer" in page, endpoint.path


def test_the_data_dictionary_lists_every_supersearch_field(server):
    fields = get(server, "/api/SuperSearchFields/").json()
    html = get(server, "/documentation/datadictionary/", headers=BROWSER).text
    for name, described in fields.items():
        row = re.search(rf'<tr id="field-{re.escape(name)}">(.*?)</tr>', html, re.S)
        assert row, name
        assert ("protected" in row.group(1)) == bool(described["permissions_needed"]), name
        assert " ".join(described["operators"]).replace(">", "&gt;").replace("<", "&lt;") in row.group(1), name
    processed = get(server, "/documentation/datadictionary/", headers=BROWSER, document="processed_crash").text
    assert "json_dump.crashing_thread" in processed
