"""The web UI pages, over crashes processed by the real functions."""

from __future__ import annotations

import requests
import pytest

from test_query_api import PII, api, crashes, start_query_server, submit  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration


def page(url, path, **params):
    answer = requests.get(f"{url}{path}", params=params, timeout=60)
    assert answer.headers["Content-Type"].startswith("text/html"), answer.text[:200]
    return answer


def test_report_page_shows_the_crash_without_protected_data(api, crashes):
    _, ids = crashes
    answer = page(api, f"/report/index/{ids['test.dmp']}")
    assert answer.status_code == 200
    assert ids["test.dmp"] in answer.text and "test_app.exe" in answer.text
    assert "Raw annotations" in answer.text and "Modules" in answer.text
    assert not any(value in answer.text for value in PII.values())


@pytest.mark.parametrize("crash_id, status", [("nope", 400), ("00000000-0000-4000-8000-000000261126", 404)])
def test_report_page_errors(api, crash_id, status):
    assert page(api, f"/report/index/{crash_id}").status_code == status


def test_pending_report_page_refreshes(stack, functions):
    server = start_query_server(stack, functions, priority_wait_seconds=0.001, api_rate_limit_per_minute=0)
    try:
        crash_id = submit(functions, "linux-mini.dmp", "WebPending")
        answer = page(server.url, f"/report/index/bp-{crash_id}")
        assert answer.status_code == 200 and answer.headers["Refresh"] == "3"
        assert "being processed" in answer.text
    finally:
        server.stop()


def test_search_signature_and_top_crashers_pages(api, crashes):
    product, ids = crashes
    answer = page(api, "/search/", product=product)
    assert answer.status_code == 200
    assert all(f"/report/index/{crash_id}" in answer.text for crash_id in ids.values())
    assert "2 crash reports" in answer.text
    assert page(api, "/search/").status_code == 200  # the empty form
    assert page(api, "/search/", date="yesterday").status_code == 400
    signature = page(api, "/signature/", signature="test_app.exe")
    assert signature.status_code == 200 and f"/report/index/{ids['test.dmp']}" in signature.text
    assert page(api, "/signature/").status_code == 400
    assert page(api, "/topcrashers/", product=product).status_code == 200
    assert page(api, "/topcrashers/", product=product, days="5").status_code == 400


def test_crash_data_cannot_inject_markup(api, functions):
    crash_id = submit(functions, "test.dmp", "<script>alert(1)</script>")
    requests.post(f"{functions['process'].url}/process", params={"crash_id": crash_id}, timeout=120)
    text = page(api, f"/report/index/{crash_id}").text
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
