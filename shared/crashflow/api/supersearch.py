"""SuperSearch over the ``reports`` table.

Parameters are parsed into ``Filter`` objects against a whitelist of fields, then turned
into parameterised SQL: no user input is ever formatted into a query string.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from crashflow.api.errors import BadRequest
from crashflow.reports import REPORT_COLUMNS

ALIASES = {"date": "date_processed", "platform": "os_name", "build_id": "build"}
DEFAULT_COLUMNS = ["uuid", "date", "signature", "product", "version"]
DEFAULT_FACETS = ["signature"]
MAX_RESULTS = 1000
MAX_WINDOW = 10000
OPERATORS = (">=", "<=", ">", "<", "~", "^", "$", "@", "=")


@dataclass
class Filter:
    column: str
    operator: str  # one of OPERATORS, or "null" / "true"
    values: list
    negated: bool = False


def column_for(field: str) -> str:
    column = ALIASES.get(field, field)
    if column not in REPORT_COLUMNS:
        raise BadRequest(f"unknown field {field!r}")
    return column


def _parse_date(text: str) -> dt.datetime:
    text = text.strip().replace("Z", "+00:00")
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"not a date: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _convert(column: str, text: str):
    kind = REPORT_COLUMNS[column]
    if kind == "timestamp":
        return _parse_date(text)
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise BadRequest(f"{column} wants a number, not {text!r}") from None
    if kind == "boolean":
        return text.lower() in ("1", "true", "t", "yes", "y")
    return text


def parse_value(column: str, raw: str) -> Filter:
    """``!`` negates; then ``__null__``, ``__true__`` or an operator prefix; default ``=``."""
    negated = raw.startswith("!")
    text = raw[1:] if negated else raw
    if text == "__null__":
        return Filter(column, "null", [], negated)
    if text == "__true__":
        return Filter(column, "true", [], negated)
    for operator in OPERATORS:
        if text.startswith(operator):
            text = text[len(operator) :]
            break
    else:
        operator = "="
    if operator == "@":
        try:
            re.compile(text)
        except re.error as error:
            raise BadRequest(f"bad regular expression for {column}: {error}") from None
    return Filter(column, operator, [_convert(column, text)], negated)


@dataclass
class SearchQuery:
    filters: list[Filter]
    columns: list[str]
    sort: list[tuple[str, bool]]  # (column, descending)
    facets: list[str]
    facets_size: int
    results_number: int
    results_offset: int


def _int_param(params, name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be within {low}..{high}")
    return value


def _list_param(params, name: str) -> list[str]:
    values = []
    for raw in params.getlist(name):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return values


def parse_query(params, now: dt.datetime | None = None) -> SearchQuery:
    """``params`` is a MultiDict of the request's query string."""
    now = now or dt.datetime.now(dt.timezone.utc)
    filters: list[Filter] = []
    for field in params:
        if field.startswith("_"):
            if field not in ("_columns", "_sort", "_facets", "_facets_size", "_results_number", "_results_offset"):
                raise BadRequest(f"unknown parameter {field!r}")
            continue
        column = column_for(field)
        equal_values = []
        for raw in params.getlist(field):
            parsed = parse_value(column, raw)
            if parsed.operator == "=" and not parsed.negated:
                equal_values.extend(parsed.values)
            else:
                filters.append(parsed)
        if equal_values:
            filters.append(Filter(column, "=", equal_values))
    if not any(f.column == "date_processed" for f in filters):
        filters.append(Filter("date_processed", ">=", [now - dt.timedelta(days=7)]))

    columns = _list_param(params, "_columns") or DEFAULT_COLUMNS
    for name in columns:
        column_for(name)
    sort = []
    for name in _list_param(params, "_sort"):
        descending = name.startswith("-")
        sort.append((column_for(name.lstrip("-")), descending))
    facets = _list_param(params, "_facets") if "_facets" in params else DEFAULT_FACETS
    for name in facets:
        column_for(name)
    results_number = _int_param(params, "_results_number", 100, 0, MAX_RESULTS)
    results_offset = _int_param(params, "_results_offset", 0, 0, MAX_WINDOW)
    if results_number + results_offset > MAX_WINDOW:
        raise BadRequest(f"_results_offset + _results_number must be at most {MAX_WINDOW}")
    return SearchQuery(
        filters, columns, sort, facets, _int_param(params, "_facets_size", 50, 0, 1000),
        results_number, results_offset,
    )


# SQL for each operator but "=", over column {c} and parameter {p}.
OPERATOR_SQL = {
    "null": "{c} IS NULL",
    "true": "{c} IS TRUE",
    ">=": "{c} >= :{p}",
    "<=": "{c} <= :{p}",
    ">": "{c} > :{p}",
    "<": "{c} < :{p}",
    "~": "strpos(lower({c}::text), lower(:{p})) > 0",
    "^": "starts_with({c}::text, :{p})",
    "$": "right({c}::text, length(:{p})) = :{p}",
    "@": "{c}::text ~ :{p}",
}


def where_clause(filters: list[Filter]) -> tuple[str, dict]:
    """SQL conditions and their parameters; column names come from the whitelist only."""
    conditions, values = [], {}
    for index, item in enumerate(filters):
        column = item.column
        names = [f"p{index}_{n}" for n in range(len(item.values))]
        values.update(zip(names, item.values))
        if item.operator == "=":
            condition = f"{column} IN ({', '.join(':' + n for n in names)})"
        else:
            condition = OPERATOR_SQL[item.operator].format(c=column, p=names[0] if names else "")
        if item.negated:
            condition = f"NOT coalesce({condition}, false)"
        conditions.append(condition)
    return " AND ".join(conditions) or "true", values


def _as_string(value):
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat()
    if isinstance(value, bool):
        return value
    return value if isinstance(value, int) else str(value)


def search(connection, query: SearchQuery) -> dict:
    where, values = where_clause(query.filters)
    columns = [column_for(name) for name in query.columns]
    order = ", ".join(f"{c} {'DESC' if d else 'ASC'}" for c, d in query.sort) or "date_processed DESC"
    rows = connection.run(
        f"SELECT {', '.join(columns)} FROM reports WHERE {where} ORDER BY {order}, uuid "
        f"LIMIT {query.results_number} OFFSET {query.results_offset}",
        **values,
    )
    hits = [{name: _as_string(value) for name, value in zip(query.columns, row)} for row in rows]
    total = connection.run(f"SELECT count(*) FROM reports WHERE {where}", **values)[0][0]
    facets = {}
    for name in query.facets:
        column = column_for(name)
        counts = connection.run(
            f"SELECT {column}, count(*) AS n FROM reports WHERE {where} "
            f"GROUP BY {column} ORDER BY n DESC, {column} LIMIT {query.facets_size}",
            **values,
        )
        facets[name] = [{"term": _as_string(term), "count": count} for term, count in counts]
    return {"hits": hits, "total": total, "facets": facets, "errors": []}
