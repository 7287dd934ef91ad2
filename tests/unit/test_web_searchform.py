"""Super Search's filter rows and SuperSearch parameters, both ways; pages and presets."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from crashflow.api.errors import BadRequest
from crashflow.api.supersearch import parse_value
from crashflow.web.searchform import (
    operator_choices,
    Paging,
    canonical_query,
    current_preset,
    filter_rows,
    operator_key,
    presets,
    value_for,
)
from crashflow.web.signature import date_range, window

# Every choice a text field has that takes a value (but regular expressions, which must compile).
VALUE_OPERATORS = [op.key for op in operator_choices(("=", "~", "^", "$", "__null__")) if op.takes_value]


@pytest.mark.parametrize("raw, key, text", [
    ("Firefox", "=", "Firefox"), ("!Firefox", "!=", "Firefox"), ("~moz", "~", "moz"), ("!~moz", "!~", "moz"),
    ("^moz", "^", "moz"), ("$dll", "$", "dll"), ("@a.*b", "@", "a.*b"), (">=2026-11-01", ">=", "2026-11-01"),
    ("<5", "<", "5"), ("__null__", "__null__", ""), ("!__null__", "!__null__", ""), ("__true__", "__true__", ""),
    ("=~literal", "=", "~literal"), ("=!bang", "=", "!bang"), ("!=~x", "!=", "~x"),
])
def test_operator_key_and_back(raw, key, text):
    assert operator_key(raw) == (key, text)
    assert value_for(key, text) == raw


@given(st.sampled_from(VALUE_OPERATORS), st.text(min_size=1, max_size=30).filter(lambda t: "\x00" not in t))
def test_any_text_survives_the_round_trip(key, text):
    """Whatever a user types (a signature starting with ``!`` or ``<``, say) comes back as
    typed, and SuperSearch reads it with the chosen operator."""
    raw = value_for(key, text)
    assert operator_key(raw) == (key, text)
    parsed = parse_value("signature", raw)
    assert parsed.values == [text] and parsed.negated == key.startswith("!")


def test_filter_rows_skip_page_and_special_parameters():
    args = MultiDict([("product", "Firefox"), ("version", "!2.0"), ("_facets", "platform"), ("page", "2"),
                      ("tab", "reports"), ("date", ">=2026-11-01"), ("date", "<2026-11-08"), ("platform", "")])
    rows = [(row.field, row.operator, row.text) for row in filter_rows(args)]
    assert rows == [("product", "=", "Firefox"), ("version", "!=", "2.0"), ("date", ">=", "2026-11-01"),
                    ("date", "<", "2026-11-08")]


def test_builder_form_becomes_a_supersearch_query():
    form = MultiDict([
        ("field", "product"), ("operator", "="), ("value", " Firefox "),
        ("field", "signature"), ("operator", "~"), ("value", " js::"),  # signatures keep their spaces
        ("field", "uptime"), ("operator", "__null__"), ("value", ""),
        ("field", "version"), ("operator", "="), ("value", ""),  # empty: left out
        ("field", "platform"), ("operator", "="), ("value", "Linux"),
        ("remove", "4"),  # ... and so is the removed row
        ("_facets", "platform"), ("_facets", "version"), ("_columns", "uuid,date"), ("_sort", "-date"),
        ("_results_offset", "100"),
    ])
    assert canonical_query(form, keep_page_params=False) == [
        ("product", "Firefox"), ("signature", "~ js::"), ("uptime", "__null__"),
        ("_facets", "platform,version"), ("_columns", "uuid,date"), ("_sort", "-date"),
    ]
    with pytest.raises(BadRequest):
        canonical_query(MultiDict([("field", "product"), ("operator", "%%"), ("value", "x")]))


def test_paging():
    paging = Paging.of(MultiDict([("page", "3"), ("_results_number", "50")]))
    assert (paging.offset, paging.size) == (100, 50)
    assert paging.last_page(1234) == 25 and paging.last_page(0) == 1
    assert paging.window(1234) == [1, 2, 3, 4, 5, None, 25]
    assert Paging.of(MultiDict([("page", "10"), ("_results_number", "50")])).window(1234) == [1, None, 8, 9, 10, 11, 12, None, 25]
    assert Paging.of(MultiDict()).size == 50
    assert Paging.of(MultiDict([("_results_number", "500"), ("page", "1")])).last_page(10 ** 6) == 20  # 10,000 reachable
    for bad in ([("page", "0")], [("_results_number", "5000")], [("page", "201"), ("_results_number", "50")]):
        with pytest.raises(BadRequest):
            Paging.of(MultiDict(bad))


def test_presets_are_whole_days_ending_today():
    today = dt.date(2026, 11, 30)
    assert [(p.days, p.value) for p in presets(today)] == [
        (1, ">=2026-11-30"), (3, ">=2026-11-28"), (7, ">=2026-11-24"), (14, ">=2026-11-17"), (28, ">=2026-11-03")]
    assert current_preset(MultiDict([("date", ">=2026-11-24")]), today) == 7
    assert current_preset(MultiDict([("date", ">=2026-11-24"), ("date", "<2026-12-01")]), today) == 7
    assert current_preset(MultiDict([("date", ">=2026-11-24"), ("date", "<2026-11-26")]), today) is None


def test_custom_ranges_and_windows():
    assert date_range("2026-11-01", "2026-11-03") == [">=2026-11-01", "<2026-11-04"]
    assert date_range("2026-11-01", "") == [">=2026-11-01"]
    for bad in (("nope", ""), ("2026-11-05", "2026-11-01")):
        with pytest.raises(BadRequest):
            date_range(*bad)
    today = dt.date(2026, 11, 30)
    assert window([">=2026-11-01", "<2026-11-04"], today) == (dt.date(2026, 11, 1), dt.date(2026, 11, 3))
    assert window([">=2026-11-24"], today) == (dt.date(2026, 11, 24), today)
    assert window(["<=2026-11-20"], today) == (None, dt.date(2026, 11, 20))


def test_operator_choices_follow_the_fields_operators():
    keys = [op.key for op in operator_choices(("=", ">=", "<=", ">", "<", "__null__"))]
    assert keys == ["=", "!=", ">=", "<=", ">", "<", "__null__", "!__null__"]
    booleans = {op.key: op for op in operator_choices(("=", "__true__", "__null__"))}
    assert not booleans["__true__"].takes_value and not booleans["!__null__"].takes_value
    assert [op.key for op in operator_choices(("=", "unknown"))] == ["=", "!="]
