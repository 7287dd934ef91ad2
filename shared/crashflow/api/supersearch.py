"""SuperSearch parameters: parsed and checked against the whitelist of fields.

Every field is a ``reports`` column (``REPORT_COLUMNS``, so a new column is searchable by
itself) or one of Socorro's aliases, as ``crashflow.fields.SearchField`` defines them: a
caller without ``view_pii`` may filter, sort, facet and aggregate on public fields only,
and gets the public ones of the columns it asks for. ``search_sql`` turns the parsed query
into SQL.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from crashflow.api.calls import int_param, list_param
from crashflow.api.errors import BadRequest, Forbidden
from crashflow.fields import PII_PERMISSION, RANGE_OPERATORS, TEXT_OPERATORS, SearchField, default_definitions
from crashflow.reports import REPORT_COLUMNS

DEFAULT_COLUMNS = ["uuid", "date", "signature", "product", "version"]
DEFAULT_FACETS = ["signature"]
DEFAULT_FACETS_SIZE = 50
MAX_FACETS_SIZE = 10_000
DEFAULT_RESULTS = 100
MAX_RESULTS = 1000
MAX_WINDOW = 10_000
DEFAULT_DAYS = 7
MAX_VALUE_LENGTH = 10_000
# Longest prefix first: ">=" before ">".
OPERATORS = (">=", "<=", ">", "<", "~", "^", "$", "@", "=")
SPECIAL = {"_columns", "_sort", "_facets", "_facets_size", "_results_number", "_results_offset"}
PREFIXED_SPECIAL = ("_aggs.", "_histogram.", "_histogram_interval.", "_cardinality.")
CARDINALITY = "_cardinality."
DATE_INTERVALS = {"day": "day", "1d": "day", "hour": "hour", "1h": "hour", "week": "week", "1w": "week"}


@dataclass
class Filter:
    column: str
    operator: str  # one of OPERATORS, or "null" / "true"
    values: list
    negated: bool = False


@dataclass
class Facet:
    """A terms facet (top values and counts), a cardinality (distinct values) or a
    histogram (counts per interval); ``name`` is the field as the caller spelled it."""

    kind: str  # "terms", "cardinality" or "histogram"
    name: str
    column: str
    interval: int | str | None = None  # histograms: a number, or a date_trunc unit
    nested: list[Facet] = field(default_factory=list)

    @property
    def key(self) -> str:
        """The key of this facet in the answer's ``facets``."""
        return self.name if self.kind == "terms" else f"{self.kind}_{self.name}"


@dataclass
class SearchQuery:
    filters: list[Filter]
    columns: list[tuple[str, str]]  # (name as requested, column)
    sort: list[tuple[str, bool]]  # (column, descending)
    facets: list[Facet]
    facets_size: int
    results_number: int
    results_offset: int
    # Columns asked for that the caller may not see (left out of the hits).
    withheld_columns: list[str] = field(default_factory=list)


def parse_date(text: str) -> dt.datetime:
    value_text = text.strip()
    if value_text.endswith(("Z", "z")):
        value_text = value_text[:-1] + "+00:00"
    try:
        value = dt.datetime.fromisoformat(value_text)
    except ValueError:
        raise BadRequest(f"not a date: {text[:60]!r} (use 2026-11-01, 2026-11-26 23:59:59 or ISO 8601)") from None
    value = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    try:  # Postgres gets it in UTC, which must be a date Python can hold (years 1..9999)
        value.astimezone(dt.timezone.utc)
    except OverflowError:
        raise BadRequest(f"date out of range: {text[:60]!r}") from None
    return value


TRUE_WORDS = {"1", "true", "t", "yes", "y", "on"}
FALSE_WORDS = {"0", "false", "f", "no", "n", "off"}


def _convert(column: str, text: str):
    kind = REPORT_COLUMNS[column]
    if kind == "timestamp":
        return parse_date(text)
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise BadRequest(f"{column} wants a whole number, not {text[:40]!r}") from None
    if kind == "boolean":
        if text.lower() in TRUE_WORDS | FALSE_WORDS:
            return text.lower() in TRUE_WORDS
        raise BadRequest(f"{column} wants true or false, not {text[:40]!r}")
    return text


def split_value(raw: str) -> tuple[bool, str, str]:
    """A value's parts: negated (a leading ``!``), the operator (``=`` when none is written;
    ``null`` and ``true`` for ``__null__`` and ``__true__``) and the text after it."""
    negated = raw.startswith("!")
    text = raw[1:] if negated else raw
    if text in ("__null__", "__true__"):
        return negated, text.strip("_"), ""
    operator = next((op for op in OPERATORS if text.startswith(op)), "=")
    if text.startswith(operator):
        text = text[len(operator):]
    return negated, operator, text


def join_value(negated: bool, operator: str, text: str = "") -> str:
    """The value ``split_value`` splits: ``=`` is written only where the text would
    otherwise be read as an operator (``=~literal``, ``=!literal``)."""
    if operator in ("null", "true"):
        body = f"__{operator}__"
    elif operator == "=" and not text.startswith(("!", *OPERATORS)) and text not in ("__null__", "__true__"):
        body = text
    else:
        body = operator + text
    return f"!{body}" if negated else body


def parse_value(column: str, raw: str) -> Filter:
    """``!`` negates; then ``__null__``, ``__true__`` or an operator prefix; default ``=``."""
    if len(raw) > MAX_VALUE_LENGTH:
        raise BadRequest(f"value for {column} is longer than {MAX_VALUE_LENGTH} characters")
    negated, operator, text = split_value(raw)
    if operator == "null":
        return Filter(column, "null", [], negated)
    if operator == "true":
        if REPORT_COLUMNS[column] != "boolean":
            raise BadRequest(f"__true__ applies to true/false fields; {column} is not one")
        return Filter(column, "true", [], negated)
    kind = REPORT_COLUMNS[column]
    if operator in TEXT_OPERATORS and kind != "text":
        raise BadRequest(f"operator {operator} applies to text fields; {column} is {kind}")
    if operator in RANGE_OPERATORS and kind not in ("integer", "timestamp"):
        raise BadRequest(f"operator {operator} applies to numbers and dates; {column} is {kind}")
    if operator == "@":
        try:
            re.compile(text)
        except re.error as error:
            raise BadRequest(f"bad regular expression for {column}: {error}") from None
    return Filter(column, operator, [_convert(column, text)], negated)


def group_filters(column: str, raw_values: list[str]) -> list[Filter]:
    """The filters of one field. Values with the same list-like operator (``=``, ``~``,
    ``^``, ``$``, ``@``) are alternatives (any may match); negated ones must all fail to
    match; range operators and ``__null__``/``__true__`` each apply on their own."""
    grouped: dict[tuple[str, bool], Filter] = {}
    filters = []
    for raw in raw_values:
        parsed = parse_value(column, raw)
        if parsed.operator in RANGE_OPERATORS or parsed.operator in ("null", "true") or parsed.negated:
            filters.append(parsed)
            continue
        key = (parsed.operator, parsed.negated)
        if key in grouped:
            grouped[key].values.extend(parsed.values)
        else:
            grouped[key] = parsed
            filters.append(parsed)
    return filters


class FieldGuard:
    """Finds fields by name, and refuses protected ones to a caller without ``view_pii``."""

    def __init__(self, fields: dict[str, SearchField], allowed: bool):
        self.fields = fields
        self.allowed = allowed

    def field(self, name: str) -> SearchField:
        found = self.fields.get(name)
        if found is None:
            raise BadRequest(f"unknown field {name[:80]!r}")
        return found

    def visible(self, name: str) -> bool:
        return self.allowed or self.field(name).public

    def check(self, name: str, use: str) -> str:
        """The column of field ``name``, if the caller may use it."""
        if not self.visible(name):
            raise Forbidden(f"{use} on the protected field {name} needs an Auth-Token with {PII_PERMISSION}")
        return self.field(name).column


def _nested_facet(name: str, guard: FieldGuard) -> Facet:
    if name.startswith(CARDINALITY):
        inner = name[len(CARDINALITY):]
        return Facet("cardinality", inner, guard.check(inner, "faceting"))
    return Facet("terms", name, guard.check(name, "faceting"))


def _histogram_interval(column: str, raw: str | None):
    kind = REPORT_COLUMNS[column]
    if kind == "timestamp":
        if raw is None or raw == "":
            return "day"
        if raw.lower() not in DATE_INTERVALS:
            raise BadRequest(f"date histogram interval must be one of {', '.join(DATE_INTERVALS)}, not {raw[:20]!r}")
        return DATE_INTERVALS[raw.lower()]
    if kind != "integer":
        raise BadRequest(f"histograms are made of dates and numbers; {column} is {kind}")
    if raw is None or raw == "":
        return 1
    try:
        interval = int(raw)
    except ValueError:
        raise BadRequest(f"histogram interval of {column} must be a whole number, not {raw[:20]!r}") from None
    if interval < 1:
        raise BadRequest(f"histogram interval of {column} must be at least 1")
    return interval


def parse_facets(params, guard: FieldGuard) -> list[Facet]:
    """``_facets``, ``_aggs.<f>``, ``_histogram.<f>`` (+ ``_histogram_interval.<f>``),
    ``_cardinality.<f>``; nested aggregations go one level deep."""
    names = list_param(params, "_facets") if "_facets" in params else list(DEFAULT_FACETS)
    facets = [_nested_facet(name, guard) for name in names]
    histograms = {}
    for param in params:
        if param.startswith("_aggs."):
            name = param[len("_aggs."):]
            nested = [_nested_facet(sub, guard) for sub in list_param(params, param)]
            parent = Facet("terms", name, guard.check(name, "faceting"), nested=nested)
            facets = [f for f in facets if f.key != parent.key] + [parent]
        elif param.startswith("_histogram."):
            name = param[len("_histogram."):]
            column = guard.check(name, "histograms")
            interval = _histogram_interval(column, params.get(f"_histogram_interval.{name}"))
            nested = [_nested_facet(sub, guard) for sub in list_param(params, param)]
            histograms[name] = Facet("histogram", name, column, interval, nested)
        elif param.startswith(CARDINALITY):
            name = param[len(CARDINALITY):]
            facets.append(Facet("cardinality", name, guard.check(name, "cardinality")))
        elif param.startswith("_histogram_interval."):
            name = param[len("_histogram_interval."):]
            if f"_histogram.{name}" not in params:
                raise BadRequest(f"{param} without _histogram.{name}")
    return facets + list(histograms.values())


def parse_query(params, now: dt.datetime | None = None, fields: dict[str, SearchField] | None = None,
                allow_protected: bool = True) -> SearchQuery:
    """``params`` is a MultiDict of the request's query string; ``fields`` the search fields
    (``FieldDefinitions.search_fields``; the defaults when None)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    guard = FieldGuard(default_definitions().search_fields if fields is None else fields, allow_protected)
    filters: list[Filter] = []
    for name in params:
        if name.startswith("_"):
            if name not in SPECIAL and not name.startswith(PREFIXED_SPECIAL):
                raise BadRequest(f"unknown parameter {name[:80]!r}")
            continue
        column = guard.check(name, "filtering")
        filters.extend(group_filters(column, [raw for raw in params.getlist(name) if raw != ""]))
    if not any(f.column == "date_processed" for f in filters):
        filters.append(Filter("date_processed", ">=", [now - dt.timedelta(days=DEFAULT_DAYS)]))

    columns, withheld = [], []
    for name in list_param(params, "_columns") or DEFAULT_COLUMNS:
        if guard.visible(name):
            columns.append((name, guard.field(name).column))
        else:  # left out of the hits, and named in the answer's _withheld
            withheld.append(name)
    sort = []
    for name in list_param(params, "_sort"):
        descending = name.startswith("-")
        sort.append((guard.check(name.removeprefix("-"), "sorting"), descending))
    results_number = int_param(params, "_results_number", DEFAULT_RESULTS, 0, MAX_RESULTS)
    results_offset = int_param(params, "_results_offset", 0, 0, MAX_WINDOW)
    if results_number + results_offset > MAX_WINDOW:
        raise BadRequest(f"_results_offset + _results_number must be at most {MAX_WINDOW}")
    return SearchQuery(
        filters=filters,
        columns=columns,
        sort=sort,
        facets=parse_facets(params, guard),
        facets_size=int_param(params, "_facets_size", DEFAULT_FACETS_SIZE, 0, MAX_FACETS_SIZE),
        results_number=results_number,
        results_offset=results_offset,
        withheld_columns=withheld,
    )
