"""SuperSearch parameters -> filters, facets and parameterised SQL (no services needed)."""

import datetime as dt

import pytest
from werkzeug.datastructures import MultiDict

from crashflow.api.errors import BadRequest, Forbidden
from crashflow.api.search_sql import bucket_sql, where_clause
from crashflow.api.supersearch import parse_query
from crashflow.reports import REPORT_COLUMNS

NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.timezone.utc)
UTC = dt.timezone.utc


def parse(pairs, **kwargs):
    return parse_query(MultiDict(pairs), now=NOW, **kwargs)


def test_defaults():
    query = parse([])
    assert query.columns == [("uuid", "uuid"), ("date", "date_processed"), ("signature", "signature"),
                             ("product", "product"), ("version", "version")]
    assert [f.key for f in query.facets] == ["signature"]
    assert query.facets_size == 50 and query.results_number == 100 and query.results_offset == 0
    (date_filter,) = query.filters
    assert date_filter.column == "date_processed" and date_filter.values == [NOW - dt.timedelta(days=7)]


def test_every_report_column_is_a_field():
    for column in REPORT_COLUMNS:
        assert parse([("_columns", column)]).columns == [(column, column)]


def test_operators_become_parameters():
    params = [("product", "Firefox"), ("product", "Fenix"), ("signature", "!~OOM"),
              ("date", ">=2026-11-01"), ("date", "<2026-11-26 23:59:59"), ("uptime", ">10")]
    where, values = where_clause(parse(params).filters)
    assert "product IN (:f0_0, :f0_1)" in where
    assert "NOT coalesce(strpos(lower(signature), lower(:f1_0)) > 0, false)" in where
    assert sorted(map(str, values.values())) == sorted(
        ["Firefox", "Fenix", "OOM", "2026-11-01 00:00:00+00:00", "2026-11-26 23:59:59+00:00", "10"])
    assert "Firefox" not in where and "OOM" not in where
    # An explicit date range replaces the default 7 days.
    assert [f for f in parse(params).filters if f.column == "date_processed"][0].operator == ">="
    assert len([f for f in parse(params).filters if f.column == "date_processed"]) == 2


@pytest.mark.parametrize("raw, operator, negated", [
    ("x", "=", False), ("!x", "=", True), ("~x", "~", False), ("^x", "^", False), ("$x", "$", False),
    ("@x.*", "@", False), ("!@x", "@", True), ("__null__", "null", False), ("!__null__", "null", True),
])
def test_text_operators(raw, operator, negated):
    (item,) = [f for f in parse([("signature", raw)]).filters if f.column == "signature"]
    assert (item.operator, item.negated) == (operator, negated)


def test_same_operator_values_are_alternatives_and_negations_all_apply():
    filters = parse([("signature", "~a"), ("signature", "~b"), ("signature", "!x"), ("signature", "!y")]).filters
    where, _ = where_clause([f for f in filters if f.column == "signature"])
    assert where.count(" OR ") == 1 and where.count("NOT coalesce") == 2


def test_dates_in_every_form():
    for text, expected in [
        (">=2026-11-01", dt.datetime(2026, 11, 1, tzinfo=UTC)),
        ("<2026-11-26 23:59:59", dt.datetime(2026, 11, 26, 23, 59, 59, tzinfo=UTC)),
        ("<=2026-11-26T10:00:00Z", dt.datetime(2026, 11, 26, 10, tzinfo=UTC)),
        (">2026-11-26T10:00:00+02:00", dt.datetime(2026, 11, 26, 8, tzinfo=UTC)),
    ]:
        (item,) = parse([("date", text)]).filters
        assert item.values == [expected]


def test_booleans_and_true():
    (item,) = [f for f in parse([("success", "__true__")]).filters if f.column == "success"]
    assert item.operator == "true"
    (item,) = [f for f in parse([("success", "false")]).filters if f.column == "success"]
    assert item.values == [False]


def test_aliases_keep_the_requested_name():
    query = parse([("_columns", "platform"), ("_columns", "build_id"), ("_facets", "platform")])
    assert query.columns == [("platform", "os_name"), ("build_id", "build")]
    assert query.facets[0].column == "os_name" and query.facets[0].key == "platform"


def test_sort_with_minus():
    assert parse([("_sort", "-date,signature")]).sort == [("date_processed", True), ("signature", False)]


def test_aggs_histograms_and_cardinality():
    query = parse([("_facets", "product"), ("_aggs.signature", "product,_cardinality.install_time"),
                   ("_histogram.date", "os_name"), ("_histogram.uptime", ""),
                   ("_histogram_interval.uptime", "60"), ("_cardinality.signature", "")])
    facets = {f.key: f for f in query.facets}
    assert set(facets) == {"product", "signature", "histogram_date", "histogram_uptime", "cardinality_signature"}
    assert [n.key for n in facets["signature"].nested] == ["product", "cardinality_install_time"]
    assert facets["histogram_date"].interval == "day" and [n.key for n in facets["histogram_date"].nested] == ["os_name"]
    assert facets["histogram_uptime"].interval == 60
    assert "date_trunc('day', date_processed AT TIME ZONE 'UTC')" == bucket_sql(facets["histogram_date"])
    assert ":interval" in bucket_sql(facets["histogram_uptime"])


def test_facets_can_be_turned_off():
    assert parse([("_facets", "")]).facets == []


@pytest.mark.parametrize("params", [
    {"nope": "1"}, {"_nope": "1"}, {"_columns": "uuid,password"}, {"uptime": "abc"},
    {"date": ">=yesterday"}, {"_results_number": "1001"}, {"_results_offset": "9950"},
    {"_results_number": "-1"}, {"_results_offset": "x"}, {"_facets_size": "many"},
    {"signature": "@(["}, {"_sort": "-nothing"}, {"_facets": "nothing"}, {"uptime": "~5"},
    {"signature": ">a"}, {"signature": "__true__"}, {"success": "maybe"},
    {"_aggs.nothing": "product"}, {"_aggs.signature": "nothing"}, {"_histogram.signature": ""},
    {"_histogram.date": "", "_histogram_interval.date": "fortnight"},
    {"_histogram.uptime": "", "_histogram_interval.uptime": "0"},
    {"_histogram_interval.date": "day"}, {"_cardinality.nothing": ""},
    {"signature'; DROP TABLE reports; --": "x"}, {"signature": "x" * 10_001},
])
def test_bad_parameters(params):
    with pytest.raises(BadRequest):
        parse(list(params.items()))


@pytest.mark.parametrize("params", [
    [("url", "~example")], [("_facets", "email")], [("_aggs.signature", "user_comments")],
    [("_sort", "-url")], [("_cardinality.email", "")], [("_aggs.url", "signature")],
])
def test_protected_fields_cannot_be_searched_without_permission(params):
    with pytest.raises(Forbidden):
        parse(params, allow_protected=False)
    parse(params, allow_protected=True)


def test_protected_columns_are_left_out_of_hits():
    query = parse([("_columns", "uuid,url,email")], allow_protected=False)
    assert query.columns == [("uuid", "uuid")] and query.withheld_columns == ["url", "email"]
    assert parse([("_columns", "uuid,url")]).columns == [("uuid", "uuid"), ("url", "url")]
