"""The overview's precomputed answers (``crashflow.api.answers``, ``crashflow.web.precompute``)
over a product history aggregated by the real jobs: a run of a job the pages read stores the
answers of every overview page; they are exactly what computing them gives; the endpoints
read them; a new run is seen at once, memory or not; pages with filters no run precomputed
are computed, and give the same as before."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests

from conftest import start_query_server
from crashflow.aggregation.runner import run_job
from crashflow.api.aggregates import TOP_CRASHERS_SHAPE
from crashflow.api.answers import Answers, answer_key
from crashflow.stores.factory import Stores
from crashflow.stores.postgres import Database
from crashflow.ttlcache import TtlCache
from crashflow.web.page import ask
from crashflow.web.precompute import PrecomputeServices, overview_asks, precompute
from overview_history import build_history, crash_rows

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def history(stack):
    return build_history(stack, "Answers")


def servers(stack, functions, **overrides):
    return start_query_server(stack, functions, api_rate_limit_per_minute=0, api_token_rate_limit_per_minute=0,
                              **overrides)


@pytest.fixture(scope="module")
def deployed(stack, functions, history):
    """As deployed: answers kept in memory (60 s) over the precomputed ones."""
    server = servers(stack, functions)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def computed(stack, functions, history):
    """Every answer computed afresh: no memory, precomputed answers not read."""
    server = servers(stack, functions, api_aggregates_cache_seconds=0, api_precomputed_answers="false")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stored_only(stack, functions, history):
    """No memory: every request reads the precomputed answers (or computes)."""
    server = servers(stack, functions, api_aggregates_cache_seconds=0)
    yield server
    server.stop()


def api(server, endpoint, **params):
    answer = requests.get(f"{server.url}/api/{endpoint}/", params=params, timeout=60)
    assert answer.status_code == 200, answer.text[:400]
    return answer.json()


def answers(settings, **options):
    """Services that answer as the query function does, with ``options`` (``Answers``')."""
    services = PrecomputeServices(settings, Database(settings))
    services.answers = Answers(services.database, TtlCache(0), **options)
    return services


def test_a_run_stores_every_overview_page_answer_and_they_are_what_computing_gives(stack, history):
    asks = overview_asks([history.product], history.today)
    assert len(asks) == 2 + 3 * 5 + 5  # home, picker; 7/14/28 days of the product home; 5 rankings
    computing, reading = answers(stack, read_stored=False), answers(stack)
    for endpoint, params in asks:
        expected = ask(computing, frozenset(), endpoint, params).body
        assert ask(reading, frozenset(), endpoint, params).body == expected, (endpoint.__name__, params)
    assert computing.answers.computed == len(asks)
    assert reading.answers.computed == 0  # every one was stored by the jobs' runs, under the latest runs


def test_the_endpoints_read_the_stored_answers(stack, history, stored_only):
    """A stored answer changed by hand is what the endpoint answers (so it was read, not computed)."""
    key = answer_key((("days", 7), ("end_date", history.today), ("limit", 50), ("platform", None),
                      ("process_type", None), ("product", history.product), ("report_type", None),
                      ("version", None), ("shape", TOP_CRASHERS_SHAPE)))
    database = Database(stack)
    with database.connection() as connection:
        (text,), = connection.run("SELECT answer FROM overview_answers WHERE endpoint = 'TopCrashers' AND key = :key",
                                  key=key)
        marked = json.loads(text)
        marked["total"] = 987654
        connection.run("UPDATE overview_answers SET answer = :answer WHERE endpoint = 'TopCrashers' AND key = :key",
                       answer=json.dumps(marked), key=key)
    try:
        assert api(stored_only, "TopCrashers", product=history.product, days=7)["total"] == 987654
    finally:
        with database.connection() as connection:
            connection.run("UPDATE overview_answers SET answer = :answer WHERE endpoint = 'TopCrashers' AND key = :key",
                           answer=text, key=key)


@pytest.mark.parametrize("endpoint, params", [
    ("Products", {"days": 7}),
    ("Products", {"days": 28}),
    ("CrashesPerDay", {"from_date": "{start}", "to_date": "{today}"}),
    ("TopCrashers", {"days": 28}),
    ("TopCrashers", {"days": 7, "version": "1.0"}),  # never precomputed: computed
    ("TopCrashers", {"days": 7, "platform": "win", "report_type": "hang"}),
    ("NewSignatures", {"days": 14}),
    ("ExplosiveSignatures", {"days": 7}),
    ("Regressions", {"days": 28}),
])
def test_every_way_gives_the_same_answer(history, deployed, computed, stored_only, endpoint, params):
    values = {name: value.format(start=history.today - dt.timedelta(days=13), today=history.today)
              if isinstance(value, str) else value for name, value in params.items()}
    if endpoint != "Products":
        values["product"] = history.product
    answers = [api(server, endpoint, **values) for server in (computed, stored_only, deployed, deployed)]
    assert answers[0] == answers[1] == answers[2] == answers[3]


def test_a_new_run_is_seen_at_once_memory_or_not(stack, history, deployed, stored_only, computed):
    before = api(deployed, "TopCrashers", product=history.product, days=1)
    assert api(stored_only, "TopCrashers", product=history.product, days=1) == before
    # Five more crashes of the steady signature today: nothing changes until the job runs.
    stores = Stores.from_settings(stack, "jobs")
    for row in crash_rows(history.today, history.product, history.signatures["steady"], 5, "1.0"):
        stores.reports.upsert_report(row)
    assert api(deployed, "TopCrashers", product=history.product, days=1) == before
    run = run_job(stores, "top_crashers", history.today, history.today)
    assert run.status == "ok"
    for server in (deployed, stored_only, computed):
        after = api(server, "TopCrashers", product=history.product, days=1)
        steady = {crash["signature"]: crash["count"] for crash in after["crashes"]}[history.signatures["steady"]]
        assert steady == 2 + 5 and after["total"] == before["total"] + 5
    assert api(deployed, "TopCrashers", product=history.product, days=1) == api(
        computed, "TopCrashers", product=history.product, days=1)
    with Database(stack).connection() as connection:
        (runs,), = connection.run("SELECT runs FROM overview_answers WHERE endpoint = 'TopCrashers' AND key = :key",
                                  key=answer_key((("days", 1), ("end_date", history.today), ("limit", 50),
                                                  ("platform", None), ("process_type", None),
                                                  ("product", history.product), ("report_type", None),
                                                  ("version", None), ("shape", TOP_CRASHERS_SHAPE))))
    assert runs == Answers(Database(stack), TtlCache(0)).latest_runs("TopCrashers")  # the run precomputed it


def test_precomputing_again_reads_what_is_current_and_forgets_old_windows(stack, history):
    database = Database(stack)
    with database.connection() as connection:
        connection.run("INSERT INTO overview_answers (endpoint, key, runs, answer, computed_at) "
                       "VALUES ('Products', 'old', '', '{}', now() - interval '3 days')")
    first = precompute(stack, database)
    assert first["forgotten"] >= 1 and first["products"] >= 1 and first["asks"] >= 22
    again = precompute(stack, database)
    assert again["computed"] == 0 and again["asks"] == first["asks"]  # no run since: all read
    with database.connection() as connection:
        assert not connection.run("SELECT 1 FROM overview_answers WHERE key = 'old'")
