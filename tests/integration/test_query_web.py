"""The web UI over HTTP: pages, errors, sessions, CSRF, security headers, assets, CSV,
over crashes processed by the real functions. (What a browser does with the pages is in
tests/browser/.)"""

from __future__ import annotations

import re
import time

import pytest
import requests

from conftest import REPO, start_query_server, submit, take_message
from crashflow.crashids import create_crash_id
from crashflow.stores.postgres import Database
from crashflow.stores.s3 import CrashStorage
from crashflow.tokens import TokenStore
from crashflow.web.session import COOKIE_NAME
from test_query_api import PII, api, crashes  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
REPORT_TABS = ["details", "crashing", "threads", "modules", "raw", "addons", "correlations"]
SIGNATURE_TABS = ["summary", "graph", "reports", "aggregations", "correlations", "bugs"]


def page(base, path, session=None, status=200, **params):
    answer = (session or requests).get(f"{base}{path}", params=params, headers=BROWSER, timeout=60)
    assert answer.status_code == status, (path, answer.status_code, answer.text[:500])
    assert answer.headers["Content-Type"].startswith("text/html"), answer.text[:200]
    return answer


def title(answer) -> str:
    return re.search(r"<title>(.*?)</title>", answer.text, re.S).group(1).strip()


def csrf(answer) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', answer.text).group(1)


@pytest.fixture(scope="module")
def tokens(stack):
    store = TokenStore(Database(stack))
    return {
        "pii": store.create(["view_pii"], note="web test"),
        "everything": store.create(["view_pii", "view_rawdump", "reprocess_crashes"], note="web test"),
        "nothing": store.create([], note="web test"),
    }


@pytest.fixture(scope="module")
def ui(stack, functions):
    """A query function whose tokens are rechecked at once, so revocation shows."""
    server = start_query_server(stack, functions, api_rate_limit_per_minute=0, api_token_rate_limit_per_minute=0,
                                api_token_cache_seconds=0)
    yield server
    server.stop()


def sign_in(url, token) -> requests.Session:
    browser = requests.Session()
    form = page(url, "/login/", browser)
    answer = browser.post(f"{url}/login/", data={"token": token, "csrf_token": csrf(form), "next": "/search/"},
                          headers=BROWSER, allow_redirects=False, timeout=30)
    assert answer.status_code == 303 and answer.headers["Location"] == "/search/", answer.text[:300]
    return browser


def test_report_page_tabs(api, crashes):
    product, ids = crashes
    crash_id = ids["test.dmp"]
    for tab in REPORT_TABS:
        answer = page(api, f"/report/index/{crash_id}", tab=tab)
        assert crash_id in answer.text and not re.search(r">\s*None\s*<", answer.text), tab
        assert not any(value in answer.text for value in PII.values()), tab
        assert "— sign in with a token that has view_pii" in answer.text
    details = page(api, f"/report/index/bp-{crash_id}").text
    # The signature links to its signature page for this crash's product.
    assert f'/signature/?signature=test_app.exe&amp;product={product}' in details
    assert "EXCEPTION_ACCESS_VIOLATION_WRITE" in details and "wrote to memory" in details
    crashing = page(api, f"/report/index/{crash_id}", tab="crashing").text
    assert "no symbols for test_app.exe" in crashing
    assert "<td>—</td>" in crashing  # the Source cell of a frame without a source file
    modules = page(api, f"/report/index/{crash_id}", tab="modules").text
    assert "kernel32.pdb" in modules and "missing" in modules


@pytest.mark.parametrize("path, status, heading", [
    ("/report/index/nope", 400, "Bad Request"),
    ("/report/index/00000000-0000-4000-8000-000000261126", 404, "Not Found"),
    ("/report/index/00000000-0000-4000-8000-000000261126?tab=nope", 400, "Bad Request"),
    ("/signature/", 400, "Bad Request"),
    ("/no/such/page", 404, "Not Found"),
    ("/search/?date=yesterday", 400, None),
])
def test_errors_are_pages_for_browsers(api, path, status, heading):
    answer = requests.get(f"{api}{path}", headers=BROWSER, timeout=30)
    assert answer.status_code == status and answer.headers["Content-Type"].startswith("text/html")
    if heading:
        assert title(answer).startswith(f"{status} {heading}")
        assert f"<h1>{heading}</h1>" in answer.text
    assert 'href="/assets/app.css?v=' in answer.text  # in the UI's look


@pytest.mark.parametrize("path, status", [
    ("/api/NoSuchThing/", 404),
    ("/no/such/page", 404),
    ("/api/ProcessedCrash/?crash_id=nope", 400),
])
def test_errors_are_json_for_api_clients(api, path, status):
    for accept in ("*/*", "application/json"):
        answer = requests.get(f"{api}{path}", headers={"Accept": accept}, timeout=30)
        assert answer.status_code == status and answer.json()["error"]
    # An API path stays JSON even for a browser.
    if path.startswith("/api/"):
        assert requests.get(f"{api}{path}", headers=BROWSER, timeout=30).json()["error"]


def test_method_not_allowed(api):
    answer = requests.post(f"{api}/api/ProcessedCrash/", timeout=30)
    assert answer.status_code == 405 and answer.headers["Allow"] == "GET, HEAD"
    assert page(api, "/logout/", status=405).headers["Allow"] == "POST"


def test_slashes_and_home(api):
    assert requests.get(f"{api}/api/SuperSearchFields", timeout=30).status_code == 200  # no redirect
    home = requests.get(f"{api}/", headers=BROWSER, allow_redirects=False, timeout=30)
    assert home.status_code == 200 and "<h1>Crashes of the last 7 days</h1>" in home.text


@pytest.mark.parametrize("path", ["/search/", "/api/SuperSearchFields/", "/no/such/page", "/assets/app.css"])
def test_security_headers_everywhere(api, path):
    answer = requests.get(f"{api}{path}", headers=BROWSER, timeout=30)
    policy = answer.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "same-origin"


def test_pages_use_no_inline_script_or_style(api, crashes):
    _, ids = crashes
    for path in ("/search/?product=x", f"/report/index/{ids['test.dmp']}", "/login/", "/signature/?signature=x&tab=graph"):
        text = page(api, path).text
        assert "<style" not in text and " style=" not in text and " on" + "click=" not in text
        for script in re.findall(r"<script([^>]*)>", text):
            assert 'src="/assets/' in script or 'type="application/json"' in script, script


def test_assets_are_versioned_and_cached(api):
    text = page(api, "/search/").text
    css = re.search(r'href="(/assets/app\.css\?v=[0-9a-f]+)"', text).group(1)
    versioned = requests.get(f"{api}{css}", timeout=30)
    assert versioned.status_code == 200 and versioned.headers["Content-Type"].startswith("text/css")
    assert "immutable" in versioned.headers["Cache-Control"]
    assert versioned.content == (REPO / "shared/crashflow/web/static/app.css").read_bytes()
    assert requests.get(f"{api}/assets/app.css", timeout=30).headers["Cache-Control"] == "no-cache"
    assert requests.get(f"{api}/assets/vendor/uplot.js", timeout=30).status_code == 200
    assert requests.get(f"{api}/assets/nope.js", timeout=30).status_code == 404


def test_sign_in_shows_protected_fields_and_sign_out_hides_them(ui, crashes, tokens):
    _, ids = crashes
    crash_id = ids["linux-mini.dmp"]
    browser = sign_in(ui.url, tokens["pii"])
    cookie = next(c for c in browser.cookies if c.name == COOKIE_NAME)
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.get_nonstandard_attr("SameSite") == "Strict"
    assert not cookie.secure  # served over plain http here
    report = page(ui.url, f"/report/index/{crash_id}", browser)
    assert "Signed in. Your token has view_pii." in report.text  # the notice, once
    assert PII["URL"] in report.text and PII["Comments"] in report.text
    assert "— sign in with a token that has view_pii" not in report.text
    assert "Signed in. Your token" not in page(ui.url, f"/report/index/{crash_id}", browser).text
    for answer in (report, page(ui.url, "/search/", browser), page(ui.url, "/login/", browser)):
        assert tokens["pii"] not in answer.text and tokens["pii"] not in answer.url
    # A page's API link shows what the page shows (the session counts for GETs).
    assert browser.get(f"{ui.url}/api/ProcessedCrash/", params={"crash_id": crash_id}).json()["url"] == PII["URL"]
    signed_out = browser.post(f"{ui.url}/logout/", data={"csrf_token": csrf(report), "next": f"/report/index/{crash_id}"},
                              headers=BROWSER, timeout=30)
    assert signed_out.status_code == 200 and "Signed out." in signed_out.text
    assert PII["URL"] not in signed_out.text and "— sign in with a token that has view_pii" in signed_out.text
    log = (REPO / ".local" / "logs" / "test-query.log").read_text(errors="replace")
    assert tokens["pii"] not in log


def test_wrong_token_gets_an_html_error_page(ui):
    browser = requests.Session()
    form = page(ui.url, "/login/", browser)
    answer = browser.post(f"{ui.url}/login/", data={"token": "not-a-token", "csrf_token": csrf(form)},
                          headers=BROWSER, timeout=30)
    assert answer.status_code == 403 and answer.headers["Content-Type"].startswith("text/html")
    assert title(answer).startswith("Sign-in failed") and "unknown token" in answer.text
    assert "not-a-token" not in answer.text


def test_forms_need_their_csrf_token(ui, tokens):
    browser = requests.Session()
    page(ui.url, "/login/", browser)  # has a session, but sends no token
    for data in ({"token": tokens["pii"]}, {"token": tokens["pii"], "csrf_token": "forged"}):
        answer = browser.post(f"{ui.url}/login/", data=data, headers=BROWSER, timeout=30)
        assert answer.status_code == 403 and "expired or came from another site" in answer.text
    # Another site's form: no session cookie at all (SameSite=Strict keeps it home).
    answer = requests.post(f"{ui.url}/logout/", data={"csrf_token": "x"}, headers=BROWSER, timeout=30)
    assert answer.status_code == 403


def test_a_tampered_session_is_no_session(ui, crashes, tokens):
    _, ids = crashes
    browser = sign_in(ui.url, tokens["pii"])
    value = browser.cookies[COOKIE_NAME]
    browser.cookies.clear()
    browser.cookies.set(COOKIE_NAME, value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
    answer = page(ui.url, f"/report/index/{ids['linux-mini.dmp']}", browser)
    assert PII["URL"] not in answer.text and "Sign in" in answer.text


def test_a_revoked_token_signs_the_user_out(ui, stack, crashes):
    _, ids = crashes
    store = TokenStore(Database(stack))
    token = store.create(["view_pii"], note="revoked in a test")
    browser = sign_in(ui.url, token)
    assert PII["URL"] in page(ui.url, f"/report/index/{ids['linux-mini.dmp']}", browser).text
    store.revoke(token)
    answer = page(ui.url, f"/report/index/{ids['linux-mini.dmp']}", browser)
    assert "You were signed out: your token was revoked or has expired." in answer.text
    assert PII["URL"] not in answer.text
    assert "You were signed out" not in page(ui.url, "/search/", browser).text  # said once


def test_downloads_follow_the_session(ui, crashes, tokens):
    _, ids = crashes
    dump_link = f"/api/RawCrash/?crash_id={ids['test.dmp']}&format=raw&name=upload_file_minidump"
    anonymous = page(ui.url, f"/report/index/{ids['test.dmp']}", tab="raw").text
    assert dump_link.replace("&", "&amp;") not in anonymous and "need a token with <code>view_rawdump</code>" in anonymous
    assert requests.get(f"{ui.url}{dump_link}", timeout=30).status_code == 403
    browser = sign_in(ui.url, tokens["everything"])
    raw_tab = page(ui.url, f"/report/index/{ids['test.dmp']}", browser, tab="raw").text
    assert dump_link.replace("&", "&amp;") in raw_tab
    download = browser.get(f"{ui.url}{dump_link}", timeout=30)
    assert download.status_code == 200 and download.content == (REPO / "tests/data/minidumps/test.dmp").read_bytes()


def test_protected_fields_are_offered_to_view_pii_only(ui, tokens):
    assert '<option value="url"' not in page(ui.url, "/search/").text
    assert '<option value="url"' not in page(ui.url, "/search/", sign_in(ui.url, tokens["nothing"])).text
    assert '<option value="url" data-type="string">url (protected)' in page(ui.url, "/search/",
                                                                           sign_in(ui.url, tokens["pii"])).text
    refused = page(ui.url, "/search/", status=403, url="~private")
    assert "view_pii" in refused.text


def test_the_session_never_authorizes_a_change_through_the_api(ui, crashes, tokens):
    _, ids = crashes
    browser = sign_in(ui.url, tokens["everything"])
    answer = browser.post(f"{ui.url}/api/Reprocessing/", data={"crash_ids": ids["test.dmp"]}, timeout=30)
    assert answer.status_code == 403 and "reprocess_crashes" in answer.json()["error"]


def test_reprocess_button_queues_the_crash(ui, stack, crashes, tokens):
    _, ids = crashes
    crash_id = ids["test.dmp"]
    anonymous = page(ui.url, f"/report/index/{crash_id}").text
    assert "Reprocess</button>" not in anonymous
    browser = sign_in(ui.url, tokens["everything"])
    report = page(ui.url, f"/report/index/{crash_id}", browser)
    assert "Reprocess</button>" in report.text
    answer = browser.post(f"{ui.url}/report/reprocess/{crash_id}", data={"csrf_token": csrf(report)},
                          headers=BROWSER, timeout=30)
    assert answer.status_code == 200 and "Queued for reprocessing" in answer.text
    assert take_message(stack, "reprocessing", crash_id)
    # Without the permission: the UI's 403 page, and nothing queued.
    viewer = sign_in(ui.url, tokens["pii"])
    form = page(ui.url, f"/report/index/{crash_id}", viewer)
    refused = viewer.post(f"{ui.url}/report/reprocess/{crash_id}", data={"csrf_token": csrf(form)},
                          headers=BROWSER, timeout=30)
    assert refused.status_code == 403 and "reprocess_crashes" in refused.text


def test_pending_report_page_polls(stack, functions):
    server = start_query_server(stack, functions, priority_wait_seconds=0.001, api_rate_limit_per_minute=0)
    try:
        crash_id = submit(functions, "linux-mini.dmp", "WebPending")
        answer = page(server.url, f"/report/index/bp-{crash_id}", status=202)
        assert "being processed" in answer.text and f'data-pending-crash="{crash_id}"' in answer.text
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            answer = requests.get(f"{server.url}/report/index/{crash_id}", headers=BROWSER, timeout=60)
            if answer.status_code == 200:
                break
            time.sleep(0.5)
        assert answer.status_code == 200 and 'data-page="report"' in answer.text
    finally:
        server.stop()


def test_search_pages_builder_api_link_and_csv(api, crashes):
    product, ids = crashes
    # The builder's form answers with the same query in SuperSearch's own parameters.
    built = requests.get(f"{api}/search/", headers=BROWSER, allow_redirects=False, timeout=30, params=[
        ("field", "product"), ("operator", "="), ("value", product),
        ("field", "signature"), ("operator", "!~"), ("value", "nothing-like-this"),
        ("field", ""), ("operator", "="), ("value", ""),
        ("_facets", "platform"), ("_facets", "version"), ("_columns", "uuid"), ("_columns", "platform"),
        ("_results_number", "50")])
    assert built.status_code == 303
    assert built.headers["Location"] == (f"/search/?product={product}&signature=%21~nothing-like-this"
                                         "&_facets=platform%2Cversion&_columns=uuid%2Cplatform&_results_number=50")
    answer = page(api, built.headers["Location"])
    assert "<strong>2</strong> crash reports match." in answer.text
    assert all(f"/report/index/{crash_id}" in answer.text for crash_id in ids.values())
    api_url = re.search(r'href="(/api/SuperSearch/\?[^"]+)"', answer.text).group(1).replace("&amp;", "&")
    assert requests.get(f"{api}{api_url}", timeout=30).json()["total"] == 2
    csv_url = re.search(r'href="(/search/results\.csv\?[^"]+)"', answer.text).group(1).replace("&amp;", "&")
    exported = requests.get(f"{api}{csv_url}", timeout=30)
    assert exported.headers["Content-Type"].startswith("text/csv") and exported.headers["X-Total-Count"] == "2"
    lines = exported.text.strip().splitlines()
    assert lines[0] == "uuid,platform" and sorted(line.split(",")[0] for line in lines[1:]) == sorted(ids.values())
    assert page(api, "/search/").status_code == 200  # the empty form
    bad = page(api, "/search/", status=400, product=product, _results_number="50", page="300")
    assert "only the first 10,000 results" in bad.text


def test_signature_page_honours_the_product(api, crashes, functions):
    product, ids = crashes
    # The same signature in another product.
    requests.post(f"{functions['process'].url}/process", timeout=120,
                  params={"crash_id": submit(functions, "test.dmp", f"{product}Other")})
    for tab in SIGNATURE_TABS:
        answer = page(api, "/signature/", signature="test_app.exe", product=product, tab=tab)
        assert re.search(r"<strong>1</strong> crash\s+of " + product, answer.text), tab
    # Last seen: the newest crash of this product's (not the other product's, processed since).
    newest = requests.get(f"{api}/api/SuperSearch/", timeout=30, params={
        "signature": "test_app.exe", "product": product, "_columns": "date", "_sort": "-date",
        "_results_number": 1}).json()["hits"][0]["date"]
    summary = page(api, "/signature/", signature="test_app.exe", product=product).text
    assert re.search(rf'Last seen in this range</dt><dd><time datetime="{re.escape(newest)}"', summary)
    empty = page(api, "/signature/", signature="test_app.exe", product=product, date="<2000-01-01").text
    assert "no crash in this range" in empty
    every = page(api, "/signature/", signature="test_app.exe", tab="reports").text
    assert f"/report/index/{ids['test.dmp']}" in every
    page(api, "/signature/", signature="test_app.exe", product=product, tab="nope", status=400)
    custom = requests.get(f"{api}/signature/", params={"signature": "x", "from": "2026-11-01", "to": "2026-11-03"},
                          headers=BROWSER, allow_redirects=False, timeout=30)
    assert custom.headers["Location"] == "/signature/?signature=x&date=%3E%3D2026-11-01&date=%3C2026-11-04"


def test_crash_data_cannot_inject_markup(api, functions):
    crash_id = submit(functions, "test.dmp", "<script>alert(1)</script>", Notes="<img src=x onerror=alert(2)>")
    requests.post(f"{functions['process'].url}/process", params={"crash_id": crash_id}, timeout=120)
    for tab in ("details", "raw"):
        text = page(api, f"/report/index/{crash_id}", tab=tab).text
        assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        assert "<img src=x" not in text


def test_unknown_crash_is_a_404_page_not_a_pending_one(api):
    answer = page(api, f"/report/index/{create_crash_id()}", status=404)
    assert "not found" in answer.text


def test_expired_minidumps_are_not_offered(ui, stack, functions, tokens):
    crash_id = submit(functions, "test.dmp", f"QueryWebExpired{int(time.time())}")
    answer = requests.post(f"{functions['process'].url}/process", params={"crash_id": crash_id}, timeout=120)
    assert answer.status_code == 200, answer.text
    browser = sign_in(ui.url, tokens["everything"])
    link = f"/api/RawCrash/?crash_id={crash_id}&amp;format=raw&amp;name=upload_file_minidump"
    assert link in page(ui.url, f"/report/index/{crash_id}", browser, tab="raw").text
    # What retention does to the dumps of crashes past their days: the report stays.
    CrashStorage(stack).delete_crashes([crash_id], raw=False)
    raw_tab = page(ui.url, f"/report/index/{crash_id}", browser, tab="raw").text
    assert link not in raw_tab and "The minidump is no longer stored." in raw_tab
    assert "Processed crash (JSON)" in raw_tab


def test_the_report_names_what_it_hides_and_shows_it_after_sign_in(ui, crashes, tokens):
    _, ids = crashes
    anonymous = page(ui.url, f"/report/index/{ids['test.dmp']}", tab="raw").text
    notice = re.search(r'<p class="hidden-notice".*?</p>', anonymous, re.S).group(0)
    for name in ("json_dump.crashing_thread.frames.registers", "mdsw_return_code", "raw_crash.metadata"):
        assert f"<code>{name}</code>" in notice, notice
    assert "Protected fields" not in anonymous and "0x0012fe84" not in anonymous
    signed_in = page(ui.url, f"/report/index/{ids['test.dmp']}", sign_in(ui.url, tokens["pii"]), tab="raw").text
    assert 'class="hidden-notice"' not in signed_in
    protected = signed_in[signed_in.index("<h2>Protected fields</h2>"):]
    # The crashing thread's first frame's registers (test.dmp: esp 0x0012fe84), by frame.
    assert "json_dump.crashing_thread.frames.registers" in protected and "0x0012fe84" in protected
