"""TopCrashers, CrashesPerDay, Bugs, SignaturesByBugs, SignatureFirstDate and
AggregationJobs over rows in the aggregate tables (as the aggregate jobs write them),
checked against rankings and sums computed here."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import defaultdict

import pytest

from crashflow.stores.postgres import Database
from test_query_api import api, get  # noqa: F401  (api: the query function fixture)

pytestmark = pytest.mark.integration

END = dt.date(2026, 11, 20)
SIGNATURES = ["alpha", "beta", "gamma", "delta", "epsilon"]
VERSIONS = ["1.0", "2.0"]
PROCESS_TYPES = ["parent", "content"]
PLATFORMS = ["win_count", "mac_count", "lin_count", "other_count"]


@pytest.fixture(scope="module")
def daily(stack):
    """Per-day top-crasher rows of a fresh product over 28 days before END and END's 28."""
    product = f"Top{int(time.time() * 1000)}"
    rng = random.Random(6)
    rows = []
    for offset in range(56):
        day = END - dt.timedelta(days=offset)
        for signature in SIGNATURES:
            for version in VERSIONS:
                for process_type in PROCESS_TYPES:
                    if rng.random() < 0.3:
                        continue
                    platforms = {name: rng.randrange(0, 20) for name in PLATFORMS}
                    count = sum(platforms.values())
                    if not count:
                        continue
                    rows.append({"report_date": day, "product": product, "version": version,
                                 "process_type": process_type, "signature": signature, "report_count": count,
                                 **platforms, "hang_count": rng.randrange(0, count + 1),
                                 "install_count": rng.randrange(0, count + 1)})
    database = Database(stack)
    with database.transaction() as connection:
        for row in rows:
            connection.run(
                f"INSERT INTO top_crashers ({', '.join(row)}) VALUES ({', '.join(':' + c for c in row)})", **row)
        connection.run(
            "INSERT INTO top_crashers_by_product (report_date, product, signature, report_count, win_count, "
            "mac_count, lin_count, other_count, hang_count, install_count) "
            "SELECT report_date, product, signature, sum(report_count), sum(win_count), sum(mac_count), "
            "sum(lin_count), sum(other_count), sum(hang_count), sum(install_count) FROM top_crashers "
            "WHERE product = :product GROUP BY 1, 2, 3", product=product)
    return product, rows


def expected_ranking(rows, days, versions=None, process_type=None, column="report_count"):
    start = END - dt.timedelta(days=days - 1)
    previous_start = start - dt.timedelta(days=days)
    current, previous = defaultdict(int), defaultdict(int)
    for row in rows:
        if versions and row["version"] not in versions or process_type and row["process_type"] != process_type:
            continue
        if start <= row["report_date"] <= END:
            current[row["signature"]] += row[column]
        elif previous_start <= row["report_date"] < start:
            previous[row["signature"]] += row[column]
    signatures = set(current) | set(previous)
    # Equal counts share a rank ("competition" ranking: 1, 2, 2, 4).
    rank = {s: 1 + sum(current[o] > current[s] for o in signatures) for s in signatures}
    previous_rank = {s: 1 + sum(previous[o] > previous[s] for o in signatures) for s in signatures}
    total = sum(current.values())
    return [
        {"signature": s, "rank": rank[s], "count": current[s],
         "rank_change": previous_rank[s] - rank[s] if previous[s] else "new",
         "percent_of_total": round(100.0 * current[s] / total, 4)}
        for s in sorted((s for s in signatures if current[s]), key=lambda s: (rank[s], s))
    ]


@pytest.mark.parametrize("days", [1, 3, 7, 14, 28])
def test_top_crashers_windows(api, daily, days):
    product, rows = daily
    answer = get(api, "/api/TopCrashers/", product=product, days=days, end_date=END.isoformat())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    got = [{k: c[k] for k in ("signature", "rank", "count", "rank_change", "percent_of_total")} for c in body["crashes"]]
    assert got == expected_ranking(rows, days)
    assert body["total"] == sum(c["count"] for c in got)


@pytest.mark.parametrize("params, kwargs", [
    ({"version": "1.0"}, {"versions": ["1.0"]}),
    ({"version": ["1.0", "2.0"], "process_type": "content"}, {"versions": ["1.0", "2.0"], "process_type": "content"}),
    ({"process_type": "parent"}, {"process_type": "parent"}),
    ({"platform": "win"}, {"column": "win_count"}),
    ({"platform": "lin", "version": "2.0"}, {"column": "lin_count", "versions": ["2.0"]}),
])
def test_top_crashers_filters(api, daily, params, kwargs):
    product, rows = daily
    body = get(api, "/api/TopCrashers/", product=product, days=7, end_date=END.isoformat(), **params).json()
    got = [{k: c[k] for k in ("signature", "rank", "count", "rank_change", "percent_of_total")} for c in body["crashes"]]
    assert got == expected_ranking(rows, 7, **kwargs)


def test_top_crashers_platform_counts_and_limit(api, daily):
    product, rows = daily
    body = get(api, "/api/TopCrashers/", product=product, days=3, end_date=END.isoformat(), _results_number=2).json()
    assert len(body["crashes"]) == 2
    for crash in body["crashes"]:
        inside = [r for r in rows if r["signature"] == crash["signature"]
                  and END - dt.timedelta(days=2) <= r["report_date"] <= END]
        for name in PLATFORMS + ["hang_count"]:
            assert crash[name] == sum(r[name] for r in inside)


@pytest.mark.parametrize("params", [
    {}, {"product": "X", "days": "5"}, {"product": "X", "days": "many"}, {"product": "X", "platform": "amiga"},
    {"product": "X", "end_date": "yesterday"}, {"product": "X", "bogus": "1"},
    {"product": "X", "_results_number": "0"},
])
def test_top_crashers_errors(api, params):
    answer = get(api, "/api/TopCrashers/", **params)
    assert answer.status_code == 400 and answer.json()["error"]


def test_crashes_per_day(api, stack):
    product = f"Daily{int(time.time() * 1000)}"
    rows = [(END - dt.timedelta(days=d), version, os_name, (d + 1) * (10 if version == "1.0" else 1))
            for d in (0, 1, 3) for version in VERSIONS for os_name in ("Windows NT", "Linux")]
    with Database(stack).transaction() as connection:
        for day, version, os_name, count in rows:
            connection.run(
                "INSERT INTO crashes_per_day (report_date, product, version, os_name, process_type, report_type, "
                "report_count) VALUES (:d, :p, :v, :o, 'parent', 'crash', :n)", d=day, p=product, v=version,
                o=os_name, n=count)
    body = get(api, "/api/CrashesPerDay/", product=product, from_date=(END - dt.timedelta(days=4)).isoformat(),
               to_date=END.isoformat()).json()
    per_day = defaultdict(int)
    for day, _, _, count in rows:
        per_day[day] += count
    assert body["days"] == [{"date": (END - dt.timedelta(days=d)).isoformat(), "count": per_day[END - dt.timedelta(days=d)]}
                            for d in range(4, -1, -1)]
    assert body["total"] == sum(per_day.values())
    only = get(api, "/api/CrashesPerDay/", product=product, version="2.0", os_name="Linux",
               from_date=END.isoformat(), to_date=END.isoformat()).json()
    assert only["hits"] == [{"date": END.isoformat(), "version": "2.0", "count": 1}]
    for bad in ({}, {"product": product, "from_date": "x"}, {"product": product, "from_date": "2026-11-20",
                                                              "to_date": "2026-11-01"}):
        assert get(api, "/api/CrashesPerDay/", **bad).status_code == 400


@pytest.fixture(scope="module")
def bugs(stack):
    base = random.Random().randrange(1, 2**30)
    associations = [(base, "alpha"), (base, "beta"), (base + 1, "beta"), (base + 2, "gamma | with, comma")]
    with Database(stack).transaction() as connection:
        for bug in {b for b, _ in associations}:
            connection.run("INSERT INTO bugs (id, status) VALUES (:id, 'NEW')", id=bug)
        for bug, signature in associations:
            connection.run("INSERT INTO bug_associations (bug_id, signature) VALUES (:b, :s)", b=bug, s=signature)
        connection.run("INSERT INTO signatures (signature, first_date, first_build) VALUES "
                       "(:s, '2026-10-01T12:00:00+00:00', '20261001000000') ON CONFLICT (signature) DO NOTHING",
                       s=f"first-{base}")
    return base, associations


def test_bugs_and_signatures_by_bugs(api, bugs):
    base, associations = bugs
    answer = get(api, "/api/Bugs/", signatures=["beta", "gamma | with, comma", "nothing"]).json()
    expected = sorted((b, s) for b, s in associations if s in ("beta", "gamma | with, comma"))
    assert [(h["id"], h["signature"]) for h in answer["hits"] if h["id"] >= base] == expected
    answer = get(api, "/api/SignaturesByBugs/", bug_ids=[base, base + 2]).json()
    assert answer == {"hits": [{"id": b, "signature": s} for b, s in sorted(associations) if b in (base, base + 2)],
                      "total": 3}
    for path, params in (("/api/Bugs/", {}), ("/api/SignaturesByBugs/", {"bug_ids": "x"}),
                         ("/api/SignaturesByBugs/", {"bug_ids": str(2**40)}), ("/api/Bugs/", {"bug_ids": "1"})):
        assert get(api, path, **params).status_code == 400


def test_signature_first_date(api, bugs):
    base, _ = bugs
    answer = get(api, "/api/SignatureFirstDate/", signatures=[f"first-{base}", "never seen"]).json()
    assert answer == {"hits": [{"signature": f"first-{base}", "first_date": "2026-10-01T12:00:00+00:00",
                                "first_build": "20261001000000"}], "total": 1}
    assert get(api, "/api/SignatureFirstDate/").status_code == 400


def test_aggregation_jobs_show_the_latest_run_and_its_error(api, stack):
    job = f"test_job_{int(time.time() * 1000)}"
    with Database(stack).transaction() as connection:
        connection.run("INSERT INTO job_runs (job, window_start, window_end, started, finished, status, rows_written) "
                       "VALUES (:j, '2026-11-18', '2026-11-18', now() - interval '2 hours', "
                       "now() - interval '119 minutes', 'ok', 5)", j=job)
        connection.run("INSERT INTO job_runs (job, window_start, window_end, started, finished, status, error) "
                       "VALUES (:j, '2026-11-19', '2026-11-20', now() - interval '1 hour', now(), 'error', "
                       "'OperationalError: the disk is full')", j=job)
    hits = {hit["job"]: hit for hit in get(api, "/api/AggregationJobs/").json()["hits"]}
    latest = hits[job]
    assert latest["status"] == "error" and latest["error"] == "OperationalError: the disk is full"
    assert latest["window_start"] == "2026-11-19" and latest["window_end"] == "2026-11-20"
    assert latest["last_success"] is not None and latest["last_success"] < latest["finished"]
