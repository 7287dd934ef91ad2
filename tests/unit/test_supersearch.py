import datetime as dt

import pytest
from werkzeug.datastructures import MultiDict

from crashflow.api.errors import BadRequest
from crashflow.api.supersearch import parse_query, where_clause

NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.timezone.utc)


def test_defaults():
    query = parse_query(MultiDict(), now=NOW)
    assert query.columns == ["uuid", "date", "signature", "product", "version"]
    assert query.facets == ["signature"] and query.results_number == 100
    (date_filter,) = query.filters
    assert date_filter.column == "date_processed" and date_filter.values == [NOW - dt.timedelta(days=7)]


def test_operators_become_parameters():
    params = MultiDict([("product", "Firefox"), ("product", "Fenix"), ("signature", "!~OOM"),
                        ("date", ">=2026-11-01"), ("date", "<2026-11-26 23:59:59"), ("uptime", ">10")])
    where, values = where_clause(parse_query(params, now=NOW).filters)
    assert "product IN (:p" in where
    assert "NOT coalesce(strpos(lower(signature::text)" in where
    assert "Firefox" in values.values() and "OOM" in values.values()
    assert 10 in values.values()
    assert "Firefox" not in where and "OOM" not in where


@pytest.mark.parametrize("params", [
    {"nope": "1"}, {"_nope": "1"}, {"_columns": "uuid,password"}, {"uptime": "abc"},
    {"date": ">=yesterday"}, {"_results_number": "1001"}, {"_results_offset": "9950"},
    {"signature": "@(["}, {"_sort": "-nothing"},
])
def test_bad_parameters(params):
    with pytest.raises(BadRequest):
        parse_query(MultiDict(params), now=NOW)
