"""The query API under bad input and store outages, the search time limit, and the UI's
signature page with signatures that look like SuperSearch operators."""

from __future__ import annotations

import time

import pytest
import requests
from werkzeug.datastructures import MultiDict

from conftest import free_port
from crashflow.api.errors import BadRequest
from crashflow.api.search_sql import Search
from crashflow.api.supersearch import parse_query
from crashflow.crashids import create_crash_id
from crashflow.messages import ProcessingRequest
from crashflow.stores.hbase import CrashTable
from crashflow.stores.postgres import Database
from crashflow.stores.sqs import CrashQueues
from test_query_api import api, crashes, start_query_server, tokens  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration


def get(url, path, **params):
    return requests.get(f"{url}{path}", params=params, timeout=60)


@pytest.mark.parametrize("path, params", [
    ("/api/SuperSearch/", {"signature": "a\x00b"}),
    ("/api/SuperSearch/", {"product": "\x00"}),
    ("/api/Bugs/", {"signatures": "a\x00b"}),
    ("/api/SignatureFirstDate/", {"signatures": "a\x00b"}),
    ("/api/TopCrashers/", {"product": "Fire\x00fox"}),
    ("/api/CrashesPerDay/", {"product": "Fire\x00fox"}),
    ("/api/SuperSearch/", {"date": ">=9999-12-31T23:59:59-14:00"}),
    ("/api/TopCrashers/", {"product": "Firefox", "end_date": "0001-01-01"}),
    ("/api/CrashesPerDay/", {"product": "Firefox", "to_date": "0001-01-01"}),
    # Passes Python's checks, refused by Postgres (SQLSTATE 22003, class 22).
    ("/api/SuperSearch/", {"uptime": "99999999999999999999999"}),
])
def test_bad_values_are_400_not_500(api, path, params):
    answer = get(api, path, **params)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]


def test_store_outages_are_503_with_retry_after(stack, functions, crashes):
    _, ids = crashes
    server = start_query_server(stack, functions, hbase_thrift_port=free_port(), pg_port=free_port(),
                                api_rate_limit_per_minute=0)
    try:
        for path, params, headers in [
            ("/api/ProcessedCrash/", {"crash_id": ids["test.dmp"]}, {}),  # HBase down
            ("/api/RawCrash/", {"crash_id": ids["test.dmp"]}, {}),
            ("/api/SuperSearch/", {"product": "x"}, {}),  # Postgres down
            ("/api/SuperSearch/", {"product": "x"}, {"Auth-Token": "0" * 64}),  # the token look-up
        ]:
            answer = requests.get(f"{server.url}{path}", params=params, headers=headers, timeout=60)
            assert answer.status_code == 503, (path, answer.text)
            assert int(answer.headers["Retry-After"]) > 0 and "unreachable" in answer.json()["error"]
    finally:
        server.stop()


def test_the_search_time_limit_is_refused_cleanly_and_does_not_outlive_the_search(stack):
    database = Database(stack, size=1)
    with database.connection() as connection:
        default = connection.run("SHOW statement_timeout")[0][0]
        search = Search(connection, parse_query(MultiDict([("product", "x")])), timeout_ms=20)
        search.begin()
        # A statement certainly longer than the limit: the SQLSTATE 57014 path.
        with pytest.raises(BadRequest, match="too long"):
            search.run("SELECT pg_sleep(2)")
        connection.run("ROLLBACK")
        assert connection.run("SHOW statement_timeout")[0][0] == default
    # A whole search through the pool leaves its pooled connection as it found it.
    with database.connection() as connection:
        Search(connection, parse_query(MultiDict([("product", "x")])), timeout_ms=1234).answer()
    with database.connection() as connection:
        assert connection.run("SHOW statement_timeout")[0][0] == default


def test_the_search_parallel_workers_hold_for_the_search_only(stack):
    database = Database(stack, size=1)
    with database.connection() as connection:
        default = connection.run("SHOW max_parallel_workers_per_gather")[0][0]
        for workers in (0, 3):
            search = Search(connection, parse_query(MultiDict([("product", "x")])), parallel_workers=workers)
            search.begin()
            assert connection.run("SHOW max_parallel_workers_per_gather")[0][0] == str(workers)
            connection.run("ROLLBACK")
            assert connection.run("SHOW max_parallel_workers_per_gather")[0][0] == default
        Search(connection, parse_query(MultiDict([("product", "x")])), parallel_workers=1).answer()
        assert connection.run("SHOW max_parallel_workers_per_gather")[0][0] == default


def test_signature_page_takes_the_signature_literally(api, crashes):
    _, ids = crashes
    for signature in ("<unknown in libxul.so>", "@0x0 | foo", "!test_app.exe", "~test", "^t", "$e", "__null__"):
        answer = get(api, "/signature/", signature=signature)
        assert answer.status_code == 200, (signature, answer.text[:300])
        assert answer.headers["Content-Type"].startswith("text/html")
        # No report has these signatures: operators would have matched some.
        assert not any(f"/report/index/{crash_id}" in answer.text for crash_id in ids.values()), signature
    bad = get(api, "/signature/", signature="x" * 10_001)  # an API error is a page, not JSON
    assert bad.status_code == 400 and bad.headers["Content-Type"].startswith("text/html")


def test_search_page_dates_mean_what_supersearch_says(api, crashes):
    """The page takes SuperSearch's own parameters: a bare date is that instant, ">=" since."""
    product, ids = crashes
    since = get(api, "/search/", product=product, date=">=2000-01-01")
    assert since.status_code == 200
    assert all(f"/report/index/{crash_id}" in since.text for crash_id in ids.values())
    instant = get(api, "/search/", product=product, date="2000-01-01")
    assert instant.status_code == 200 and not any(crash_id in instant.text for crash_id in ids.values())


def test_reprocessing_many_ids_queues_every_one(api, tokens, stack):
    queues = CrashQueues(stack)
    while queues.receive("reprocessing", max_messages=10):  # what other tests left is not ours
        pass
    ids = [create_crash_id() for _ in range(25)]  # three SQS batches
    answer = requests.post(f"{api}/api/Reprocessing/", data={"crash_ids": ids},
                           headers={"Auth-Token": tokens["reprocess"]}, timeout=30)
    assert answer.status_code == 200 and answer.json() is True
    bodies, deadline = [], time.monotonic() + 20
    while len(bodies) < len(ids) and time.monotonic() < deadline:
        for message in queues.receive("reprocessing", wait_seconds=1):
            bodies.append(message.body)
            queues.delete(message)
    # Each one queued, as a request that says it wants fresh symbols.
    requests_queued = [ProcessingRequest.from_message(body) for body in bodies]
    assert sorted(request.crash_id for request in requests_queued) == sorted(ids)
    assert all(request.fresh_symbols and request.requested_by == "reprocessing" for request in requests_queued)


def test_report_page_of_a_crash_whose_raw_crash_is_gone(api, stack):
    crash_id = create_crash_id()
    CrashTable(stack).put_processed_crash(crash_id, None, {"uuid": crash_id, "signature": "RawGone"})
    answer = get(api, f"/report/index/{crash_id}")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/html")
    assert crash_id in answer.text and "RawGone" in answer.text
