"""SuperSearch and SuperSearchFields contract tests over bulk-loaded report rows: every
operator, paging past 1000 hits, sorting, columns, facets, nested aggregations, histograms
and cardinality, each checked against counts computed here from the rows themselves."""

from __future__ import annotations

import datetime as dt
import random
import re
import time
from collections import Counter

import pytest
import requests

from bench.reportgen import COLUMNS, copy_rows
from crashflow.reports import REPORT_COLUMNS
from crashflow.stores.postgres import Database
from crashflow.tokens import TokenStore
from test_query_api import api, get  # noqa: F401  (api: the query function fixture)

pytestmark = pytest.mark.integration

IN_WINDOW = 1500  # more than one page of 1000
OLD = 40  # older than the default 7-day window
SIGNATURES = ["sig alpha", "Sig::Beta", "OOM | small", "x$y (z)", None]
OSES = ["Windows NT", "Linux", "Mac OS X", None]
VERSIONS = ["1.0", "1.1", "2.0b1"]
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def make_rows(product: str) -> list[dict]:
    rng = random.Random(6)
    install_times = [1_700_000_000 + n * 3600 for n in range(150)]
    rows = []
    for index in range(IN_WINDOW + OLD):
        age = dt.timedelta(seconds=rng.randrange(60, 6 * 86400)) if index < IN_WINDOW \
            else dt.timedelta(days=20, seconds=rng.randrange(86400))
        version = rng.choice(VERSIONS)
        is_hang = rng.random() < 0.1
        rows.append({
            "uuid": f"{rng.getrandbits(96):024x}"[:8] + f"-0000-4000-8000-{index:06d}{(NOW - age):%y%m%d}",
            "date_processed": NOW - age,
            "client_crash_date": NOW - age - dt.timedelta(seconds=30),
            "product": product,
            "version": version,
            "major_version": int(version[0]),
            "build": "20261120000000",
            "release_channel": "release",
            "signature": rng.choices(SIGNATURES, weights=[40, 25, 15, 10, 10])[0],
            "os_name": rng.choices(OSES, weights=[50, 25, 20, 5])[0],
            "os_version": "10",
            "cpu_arch": "amd64",
            "uptime": None if rng.random() < 0.1 else rng.randrange(1000),
            "install_age": rng.randrange(100_000),
            "install_time": rng.choice(install_times) if rng.random() < 0.8 else None,
            "process_type": rng.choice(["parent", "content"]),
            "report_type": "hang" if is_hang else "crash",
            "hangid": f"hang-{index}" if is_hang else None,
            "success": rng.choice([True, False, None]),
        })
    return rows


@pytest.fixture(scope="module")
def reports(stack):
    product = f"Search{int(time.time() * 1000)}"
    rows = make_rows(product)
    copy_rows(Database(stack), [tuple(row[c] for c in COLUMNS) for row in rows])
    return product, rows


@pytest.fixture(scope="module")
def pii_token(stack):
    return TokenStore(Database(stack)).create(["view_pii"])


def search(api, product, *pairs, token=None, status=200):
    params = [("product", product), *pairs]
    answer = requests.get(f"{api}/api/SuperSearch/", params=params,
                          headers={"Auth-Token": token} if token else {}, timeout=60)
    assert answer.status_code == status, answer.text
    return answer.json()


def recent(rows):
    return [row for row in rows if row["date_processed"] > NOW - dt.timedelta(days=7)]


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat()


def test_default_window_and_total(api, reports):
    product, rows = reports
    answer = search(api, product)
    assert answer["total"] == IN_WINDOW == len(recent(rows))
    assert answer["errors"] == []
    assert set(answer) == {"hits", "total", "facets", "errors", "_withheld"}  # an anonymous answer
    assert len(answer["hits"]) == 100
    assert all(set(hit) == {"uuid", "date", "signature", "product", "version"} for hit in answer["hits"])
    dates = [hit["date"] for hit in answer["hits"]]
    assert dates == sorted(dates, reverse=True)  # newest first by default
    everything = search(api, product, ("date", f">={(NOW - dt.timedelta(days=30)).date()}"), ("_results_number", "0"))
    assert everything["total"] == len(rows) and everything["hits"] == []


def _regex(pattern):
    return lambda s: s is not None and re.fullmatch(pattern, s) is not None


OPERATOR_CASES = [
    ([("signature", "sig alpha")], lambda r: r["signature"] == "sig alpha"),
    ([("signature", "sig alpha"), ("signature", "Sig::Beta")], lambda r: r["signature"] in ("sig alpha", "Sig::Beta")),
    ([("signature", "~BETA")], lambda r: r["signature"] is not None and "beta" in r["signature"].lower()),
    ([("signature", "~alpha"), ("signature", "~OOM")],
     lambda r: r["signature"] is not None and ("alpha" in r["signature"] or "oom" in r["signature"].lower())),
    ([("signature", "^Sig")], lambda r: (r["signature"] or "").startswith("Sig")),
    ([("signature", "$(z)")], lambda r: (r["signature"] or "").endswith("(z)")),
    ([("signature", "@.*::B.*")], lambda r: _regex(r".*::B.*")(r["signature"])),
    ([("signature", "@sig.*")], lambda r: _regex("sig.*")(r["signature"])),
    ([("signature", "!sig alpha")], lambda r: r["signature"] != "sig alpha"),
    ([("signature", "!sig alpha"), ("signature", "!OOM | small")],
     lambda r: r["signature"] not in ("sig alpha", "OOM | small")),
    ([("signature", "!~alpha")], lambda r: "alpha" not in (r["signature"] or "")),
    ([("signature", "__null__")], lambda r: r["signature"] is None),
    ([("signature", "!__null__")], lambda r: r["signature"] is not None),
    ([("platform", "Linux")], lambda r: r["os_name"] == "Linux"),
    ([("os_name", "Linux"), ("os_name", "Mac OS X")], lambda r: r["os_name"] in ("Linux", "Mac OS X")),
    ([("version", "1.0"), ("signature", "!~a")], lambda r: r["version"] == "1.0" and "a" not in (r["signature"] or "")),
    ([("uptime", "7")], lambda r: r["uptime"] == 7),
    ([("uptime", ">=500")], lambda r: r["uptime"] is not None and r["uptime"] >= 500),
    ([("uptime", ">990")], lambda r: r["uptime"] is not None and r["uptime"] > 990),
    ([("uptime", "<=10")], lambda r: r["uptime"] is not None and r["uptime"] <= 10),
    ([("uptime", "<5")], lambda r: r["uptime"] is not None and r["uptime"] < 5),
    ([("uptime", ">100"), ("uptime", "<200")], lambda r: r["uptime"] is not None and 100 < r["uptime"] < 200),
    ([("uptime", "!>=500")], lambda r: r["uptime"] is None or r["uptime"] < 500),
    ([("uptime", "__null__")], lambda r: r["uptime"] is None),
    ([("major_version", "2")], lambda r: r["major_version"] == 2),
    ([("success", "__true__")], lambda r: r["success"] is True),
    ([("success", "!__true__")], lambda r: r["success"] is not True),
    ([("success", "false")], lambda r: r["success"] is False),
    ([("build_id", "20261120000000")], lambda r: True),
    ([("report_type", "hang"), ("hangid", "!__null__")], lambda r: r["report_type"] == "hang"),
]


@pytest.mark.parametrize("pairs, predicate", OPERATOR_CASES)
def test_operators(api, reports, pairs, predicate):
    product, rows = reports
    answer = search(api, product, *pairs, ("_results_number", "0"))
    assert answer["total"] == sum(1 for row in recent(rows) if predicate(row)) > 0


def test_a_regex_must_match_the_whole_value(api, reports):
    product, _ = reports
    assert search(api, product, ("signature", "@sig"))["total"] == 0
    assert search(api, product, ("signature", "@sig alpha"))["total"] > 0


def test_date_forms(api, reports):
    product, rows = reports
    start = NOW - dt.timedelta(days=2)
    end = NOW - dt.timedelta(days=1)
    expected = sum(1 for row in rows if start <= row["date_processed"] < end)
    for low, high in [
        (f">={start:%Y-%m-%d %H:%M:%S}", f"<{end:%Y-%m-%d %H:%M:%S}"),
        (f">={start:%Y-%m-%dT%H:%M:%SZ}", f"<{end:%Y-%m-%dT%H:%M:%SZ}"),
        (f">={start.astimezone(dt.timezone(dt.timedelta(hours=2))).isoformat()}", f"<{end.isoformat()}"),
    ]:
        assert search(api, product, ("date", low), ("date", high))["total"] == expected > 0
    day = (NOW - dt.timedelta(days=3)).date()
    by_day = sum(1 for row in rows if row["date_processed"].date() == day)
    assert search(api, product, ("date", f">={day}"), ("date", f"<{day + dt.timedelta(days=1)}"))["total"] == by_day


def test_paging_past_a_thousand_hits(api, reports):
    product, rows = reports
    seen = []
    for offset in (0, 1000):
        answer = search(api, product, ("_sort", "uuid"), ("_results_number", "1000"),
                        ("_results_offset", str(offset)), ("_columns", "uuid"), ("_facets", ""))
        seen.extend(hit["uuid"] for hit in answer["hits"])
    assert seen == sorted(row["uuid"] for row in recent(rows))
    assert len(seen) == IN_WINDOW > 1000
    assert search(api, product, ("_results_offset", "1490"), ("_results_number", "20"))["hits"].__len__() == 10


def test_sort_descending_with_missing_values_last(api, reports):
    product, rows = reports
    answer = search(api, product, ("_sort", "-uptime"), ("_sort", "uuid"), ("_columns", "uptime,uuid"),
                    ("_results_number", "1000"), ("_results_offset", str(IN_WINDOW - 1000)))
    expected = sorted(recent(rows), key=lambda r: (r["uptime"] is None, -(r["uptime"] or 0), r["uuid"]))
    assert [(h["uptime"], h["uuid"]) for h in answer["hits"]] == \
        [(r["uptime"], r["uuid"]) for r in expected[IN_WINDOW - 1000:]]


def test_every_requested_column_is_in_every_hit(api, reports, pii_token):
    product, rows = reports
    columns = list(REPORT_COLUMNS) + ["date", "platform", "build_id"]
    answer = search(api, product, ("_columns", ",".join(columns)), ("_sort", "uuid"), ("_results_number", "50"),
                    token=pii_token)
    by_uuid = {row["uuid"]: row for row in rows}
    for hit in answer["hits"]:
        assert set(hit) == set(columns)
        row = by_uuid[hit["uuid"]]
        assert hit["url"] is None and hit["user_comments"] is None  # not loaded: null, but present
        assert hit["date"] == hit["date_processed"] == iso(row["date_processed"])
        assert hit["platform"] == hit["os_name"] == row["os_name"]
        assert hit["uptime"] == row["uptime"] and hit["success"] == row["success"]
        assert hit["version"] == row["version"] and isinstance(hit["version"], str)


def _top(counter: Counter, size: int) -> list[dict]:
    ranked = sorted(((term, n) for term, n in counter.items() if term is not None), key=lambda x: (-x[1], x[0]))
    return [{"term": term, "count": n} for term, n in ranked[:size]]


def test_facets_and_facets_size(api, reports):
    product, rows = reports
    answer = search(api, product, ("_facets", "signature,platform"), ("_facets", "version"), ("_facets_size", "3"))
    window = recent(rows)
    assert answer["facets"]["signature"] == _top(Counter(r["signature"] for r in window), 3)
    assert answer["facets"]["platform"] == _top(Counter(r["os_name"] for r in window), 3)
    assert answer["facets"]["version"] == _top(Counter(r["version"] for r in window), 3)
    assert answer["total"] == len(window)
    default = search(api, product, ("signature", "!__null__"))
    assert default["facets"]["signature"] == _top(Counter(r["signature"] for r in window), 50)


def test_facets_of_every_kind_at_once(api, reports):
    """Text, number and true/false facets (one scan for all), the same field twice, next to
    a nested aggregation, a histogram and a cardinality; and a search nothing matches."""
    product, rows = reports
    window = recent(rows)
    answer = search(api, product, ("_facets", "uptime,success,os_name,platform,_cardinality.install_time"),
                    ("_aggs.version", "process_type"), ("_histogram.install_age", ""),
                    ("_histogram_interval.install_age", "50000"), ("_facets_size", "4"))
    assert answer["total"] == len(window)
    facets = answer["facets"]
    assert facets["uptime"] == _top(Counter(r["uptime"] for r in window), 4)
    assert facets["success"] == _top(Counter(r["success"] for r in window), 4)
    assert facets["os_name"] == facets["platform"] == _top(Counter(r["os_name"] for r in window), 4)
    assert facets["cardinality_install_time"] == {
        "value": len({r["install_time"] for r in window if r["install_time"] is not None})}
    assert [{"term": b["term"], "count": b["count"]} for b in facets["version"]] == \
        _top(Counter(r["version"] for r in window), 4)
    assert [(b["term"], b["count"]) for b in facets["histogram_install_age"]] == \
        sorted(Counter(r["install_age"] // 50000 * 50000 for r in window).items())
    none = search(api, product, ("signature", "no such signature"), ("_facets", "signature,platform"))
    assert none == {**none, "total": 0, "hits": [], "facets": {"signature": [], "platform": []}}


def test_nested_aggregations(api, reports):
    product, rows = reports
    answer = search(api, product, ("_aggs.signature", "platform,_cardinality.install_time"), ("_facets_size", "2"))
    window = recent(rows)
    buckets = answer["facets"]["signature"]
    assert [{"term": b["term"], "count": b["count"]} for b in buckets] == _top(Counter(r["signature"] for r in window), 2)
    for bucket in buckets:
        inside = [r for r in window if r["signature"] == bucket["term"]]
        assert bucket["facets"]["platform"] == _top(Counter(r["os_name"] for r in inside), 2)
        assert bucket["facets"]["cardinality_install_time"] == {
            "value": len({r["install_time"] for r in inside if r["install_time"] is not None})}


def test_date_histogram_by_day_with_nested_terms(api, reports):
    product, rows = reports
    start = (NOW - dt.timedelta(days=30)).date()
    answer = search(api, product, ("date", f">={start}"), ("_histogram.date", "process_type"))
    per_day = Counter(r["date_processed"].date() for r in rows)
    histogram = answer["facets"]["histogram_date"]
    assert [(b["term"], b["count"]) for b in histogram] == [
        (dt.datetime.combine(day, dt.time(), dt.timezone.utc).isoformat(), n) for day, n in sorted(per_day.items())]
    for bucket in histogram:
        day = dt.date.fromisoformat(bucket["term"][:10])
        inside = [r for r in rows if r["date_processed"].date() == day]
        assert bucket["facets"]["process_type"] == _top(Counter(r["process_type"] for r in inside), 50)


def test_number_histogram_by_interval(api, reports):
    product, rows = reports
    answer = search(api, product, ("_histogram.uptime", ""), ("_histogram_interval.uptime", "100"))
    counts = Counter(r["uptime"] // 100 * 100 for r in recent(rows) if r["uptime"] is not None)
    assert [(b["term"], b["count"], b["facets"]) for b in answer["facets"]["histogram_uptime"]] == \
        [(term, n, {}) for term, n in sorted(counts.items())]


def test_cardinality(api, reports):
    product, rows = reports
    window = recent(rows)
    answer = search(api, product, ("_cardinality.install_time", ""), ("_facets", "_cardinality.signature"))
    assert answer["facets"]["cardinality_install_time"] == {
        "value": len({r["install_time"] for r in window if r["install_time"] is not None})}
    assert answer["facets"]["cardinality_signature"] == {
        "value": len({r["signature"] for r in window if r["signature"] is not None})}


@pytest.mark.parametrize("pairs", [
    [("nope", "1")], [("_nope", "1")], [("_columns", "uuid,password")], [("uptime", "abc")],
    [("date", ">=yesterday")], [("_results_number", "1001")], [("_results_offset", "9950")],
    [("signature", "@(["), ], [("_sort", "-nothing")], [("_facets", "nothing")],
    [("_histogram.signature", "")], [("_histogram_interval.date", "day")],
])
def test_bad_parameters_are_400_json(api, reports, pairs):
    product, _ = reports
    answer = search(api, product, *pairs, status=400)
    assert set(answer) == {"error"} and answer["error"]


def test_a_regex_postgres_refuses_is_400(api, reports):
    product, _ = reports
    # Python accepts this named group; PostgreSQL's regex engine does not.
    assert "error" in search(api, product, ("signature", "@(?P<n>a)"), status=400)


INJECTIONS = ["'; DROP TABLE reports; --", "x' OR '1'='1", "1) OR (1=1", "signature FROM reports; --",
              "1; SELECT pg_sleep(10)", "\\'; DELETE FROM reports; --", "%' OR 1=1 --"]
INJECTABLE = ["signature", "product", "version", "date", "uptime", "success", "_columns", "_sort", "_facets",
              "_facets_size", "_results_number", "_results_offset", "_aggs.signature", "_histogram.date",
              "_histogram_interval.date", "_cardinality.signature", "_histogram.uptime"]


def test_sql_injection_is_harmless(api, reports, stack):
    product, rows = reports
    before = Database(stack)
    with before.connection() as connection:
        count = connection.run("SELECT count(*) FROM reports")[0][0]
    for name in INJECTABLE:
        for payload in INJECTIONS:
            for value in (payload, f"~{payload}", f"!{payload}", f">={payload}", f"@{payload}"):
                pairs = [(name, value)]
                if name == "_histogram_interval.date":
                    pairs.append(("_histogram.date", ""))
                answer = requests.get(f"{api}/api/SuperSearch/", params=[("product", product), *pairs], timeout=60)
                assert answer.status_code in (200, 400), (name, value, answer.text)
                if answer.status_code == 200 and name in ("signature", "version") \
                        and value[0] not in "!@":
                    # Taken as a value: it matches no report (and does nothing else).
                    assert answer.json()["total"] == 0, (name, value)
        for payload in INJECTIONS:  # as a field name
            assert requests.get(f"{api}/api/SuperSearch/", params={payload: "x"}, timeout=30).status_code == 400
    with before.connection() as connection:
        assert connection.run("SELECT count(*) FROM reports")[0][0] == count
    assert search(api, product)["total"] == len(recent(rows))


def test_protected_fields_in_search(api, reports, pii_token, stack):
    product, _ = reports
    public = search(api, product, ("_columns", "uuid,url,email,user_comments"), ("_results_number", "3"))
    assert public["hits"] and all(set(hit) == {"uuid"} for hit in public["hits"])
    assert public["_withheld"] == {"count": 3, "fields": ["email", "url", "user_comments"], "unlisted": 0,
                                   "permission": "view_pii"}
    for pairs in ([("url", "~x")], [("email", "__null__")], [("_facets", "user_comments")],
                  [("_aggs.signature", "email")], [("_sort", "url")], [("_cardinality.url", "")]):
        answer = search(api, product, *pairs, status=403)
        assert "view_pii" in answer["error"]
        search(api, product, *pairs, token=pii_token)
    unlocked = search(api, product, ("_columns", "uuid,url"), ("_results_number", "3"), token=pii_token)
    assert all(set(hit) == {"uuid", "url"} for hit in unlocked["hits"]) and "_withheld" not in unlocked
    assert search(api, product)["_withheld"]["count"] == 0
    none_token = TokenStore(Database(stack)).create(["view_rawdump", "reprocess_crashes"])
    assert search(api, product, ("url", "~x"), token=none_token, status=403)


def test_super_search_fields_follow_the_reports_columns(api):
    fields = get(api, "/api/SuperSearchFields/").json()
    assert set(fields) == set(REPORT_COLUMNS) | {"date", "platform", "build_id"}
    assert fields["date"]["in_database_name"] == "date_processed" and fields["date"]["query_type"] == "date"
    assert fields["uptime"]["query_type"] == "integer" and fields["signature"]["query_type"] == "string"
    assert fields["url"]["permissions_needed"] == ["crashstats.view_pii"]
    assert fields["signature"]["permissions_needed"] == []
    assert fields["signature"]["description"].startswith("Crash signature")
    assert "~" in fields["signature"]["operators"] and ">=" in fields["date"]["operators"]
    assert get(api, "/api/SuperSearchFields/", bogus="1").status_code == 400
