"""SuperSearch as SQL over ``reports``.

Column names come from the whitelist (``crashflow.fields.SearchField``) and SQL keywords from the
fixed tables below; every value the caller sent travels as a query parameter.
"""

from __future__ import annotations

import datetime as dt

from crashflow.api.errors import BadRequest
from crashflow.api.supersearch import Facet, Filter, SearchQuery
from crashflow.reports import KEY_COLUMNS
from crashflow.stores.errors import QueryFailed

# SQL for one value of each operator but "=", over column {c} and parameter {p}.
OPERATOR_SQL = {
    ">=": "{c} >= :{p}",
    "<=": "{c} <= :{p}",
    ">": "{c} > :{p}",
    "<": "{c} < :{p}",
    "~": "strpos(lower({c}), lower(:{p})) > 0",
    "^": "starts_with({c}, :{p})",
    "$": "right({c}, length(:{p})) = :{p}",
    # As in Socorro (Elasticsearch regexp queries), the expression must match the whole value.
    "@": "{c} ~ ('^(?:' || :{p} || ')$')",
}
INVALID_REGULAR_EXPRESSION = "2201B"
# Postgres's GROUPING() takes at most 31 arguments: more facets take more scans.
MAX_GROUPING_COLUMNS = 31
QUERY_CANCELED = "57014"


def _condition(item: Filter, names: list[str]) -> str:
    column = item.column
    if item.operator == "null":
        return f"{column} IS NULL"
    if item.operator == "true":
        return f"{column} IS TRUE"
    if item.operator == "=":
        return f"{column} IN ({', '.join(':' + n for n in names)})"
    alternatives = [OPERATOR_SQL[item.operator].format(c=column, p=name) for name in names]
    return alternatives[0] if len(alternatives) == 1 else f"({' OR '.join(alternatives)})"


def where_clause(filters: list[Filter]) -> tuple[str, dict]:
    """SQL conditions and their parameters."""
    conditions, values = [], {}
    for index, item in enumerate(filters):
        names = [f"f{index}_{n}" for n in range(len(item.values))]
        values.update(zip(names, item.values))
        condition = _condition(item, names)
        if item.negated:
            # A missing value is "not equal" too, as in Socorro.
            condition = f"NOT coalesce({condition}, false)"
        conditions.append(condition)
    return " AND ".join(conditions) or "true", values


def as_json_value(value):
    """Dates as ISO strings, numbers and booleans as they are, everything else a string."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # date_trunc(... AT TIME ZONE 'UTC') buckets
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return str(value)


def bucket_sql(facet: Facet) -> str:
    """The SQL expression whose values are the facet's terms."""
    if facet.kind != "histogram":
        return facet.column
    if isinstance(facet.interval, str):  # a unit from supersearch.DATE_INTERVALS
        return f"date_trunc('{facet.interval}', {facet.column} AT TIME ZONE 'UTC')"
    return f"(floor({facet.column}::float8 / :interval) * :interval)::bigint"


def order_by(column: str, descending: bool) -> str:
    """Missing values last, either way. Said only of columns that can be NULL: Postgres
    then reads ``date_processed DESC`` off an index backwards (a page of the newest
    reports in a millisecond), which ``DESC NULLS LAST`` would turn into a sort of every
    matching row."""
    nulls = "" if column in KEY_COLUMNS else " NULLS LAST"
    return f"{column} {'DESC' if descending else 'ASC'}{nulls}"


class Search:
    """Runs one parsed query on one connection."""

    def __init__(self, connection, query: SearchQuery, timeout_ms: int = 0, parallel_workers: int = 0):
        self.connection = connection
        self.query = query
        self.timeout_ms = timeout_ms
        self.parallel_workers = parallel_workers
        self.where, self.values = where_clause(query.filters)

    def begin(self) -> None:
        """Start the search's read-only transaction, with its time limit for each statement
        (0: none) and its parallel workers. ``SET LOCAL`` (``set_config(..., true)``) ends
        with the transaction, so neither stays on the pooled connection for another request;
        the pool rolls back a transaction an error left open."""
        self.connection.run("BEGIN READ ONLY")
        self.connection.run("SELECT set_config('statement_timeout', :ms, true), "
                            "set_config('max_parallel_workers_per_gather', :workers, true)",
                            ms=str(self.timeout_ms), workers=str(self.parallel_workers))

    def run(self, sql: str, **extra):
        try:
            return self.connection.run(sql, **self.values, **extra)
        except QueryFailed as error:
            if error.sqlstate == INVALID_REGULAR_EXPRESSION:
                raise BadRequest(f"bad regular expression: {error.message}") from None
            if error.sqlstate == QUERY_CANCELED:
                raise BadRequest("the search took too long; narrow its dates or filters") from None
            if error.is_bad_value:
                raise BadRequest(f"bad value: {error.message[:200]}") from None
            raise

    def answer(self) -> dict:
        self.begin()
        result = self._answer()
        self.connection.run("COMMIT")
        return result

    def _answer(self) -> dict:
        """Plain terms facets and the total come from one scan of the matching reports
        (grouping sets); histograms, cardinalities and facets with nested ones each take
        their own query, the hits one more."""
        plain = [facet for facet in self.query.facets if facet.kind == "terms" and not facet.nested]
        grouped, total = self.grouped_buckets(plain)
        facets = {}
        for facet in self.query.facets:
            if facet in plain:
                facets[facet.key] = grouped[facet.column]
            elif facet.kind == "cardinality":
                facets[facet.key] = {"value": self.cardinality(facet.column)}
            else:
                facets[facet.key] = self.buckets(facet)
        return {"hits": self.hits() if total else [], "total": total, "facets": facets, "errors": []}

    def grouped_buckets(self, facets: list[Facet]) -> tuple[dict[str, list[dict]], int]:
        """The buckets of each column of ``facets`` (terms facets without nested ones) and
        the number of matching reports. Each column's top ``facets_size`` terms; a missing
        value is never one of them (as in ``buckets``)."""
        columns = list(dict.fromkeys(facet.column for facet in facets))
        if not columns:
            return {}, self.run(f"SELECT count(*) FROM reports WHERE {self.where}")[0][0]
        buckets: dict[str, list[dict]] = {}
        for start in range(0, len(columns), MAX_GROUPING_COLUMNS):
            some, total = self.grouped_scan(columns[start:start + MAX_GROUPING_COLUMNS])
            buckets.update(some)
        return buckets, total

    def grouped_scan(self, columns: list[str]) -> tuple[dict[str, list[dict]], int]:
        """``grouped_buckets`` for a few columns, from one scan: for several ``GROUPING
        SETS`` groups it by each column and by nothing (the total)."""
        if len(columns) == 1:  # a plain GROUP BY: the cheapest plan for one column (and parallel, where allowed)
            rows = self.run(
                f"WITH g AS (SELECT {columns[0]} AS term, count(*) AS n FROM reports WHERE {self.where} GROUP BY 1) "
                f"SELECT term, n, (SELECT sum(n) FROM g) FROM g WHERE term IS NOT NULL ORDER BY n DESC, term "
                f"LIMIT :size", size=self.query.facets_size)
            total = int(rows[0][2]) if rows else self.run(f"SELECT count(*) FROM reports WHERE {self.where}")[0][0]
            return {columns[0]: [{"term": as_json_value(term), "count": n} for term, n, _ in rows]}, total
        listed = ", ".join(columns)
        everything = (1 << len(columns)) - 1  # GROUPING(...) of the empty set: no column grouped
        sets = ", ".join(f"({column})" for column in columns)
        rows = self.run(
            f"WITH g AS (SELECT GROUPING({listed}) AS set_id, {listed}, count(*) AS n FROM reports "
            f"WHERE {self.where} GROUP BY GROUPING SETS ({sets}, ())), "
            f"ranked AS (SELECT *, row_number() OVER (PARTITION BY set_id ORDER BY n DESC, {listed}) AS r "
            f"FROM g WHERE set_id = :everything OR num_nonnulls({listed}) > 0) "
            f"SELECT * FROM ranked WHERE r <= :size OR set_id = :everything ORDER BY set_id, r",
            everything=everything, size=self.query.facets_size,
        )
        # Set i (grouped by columns[i] alone) has every GROUPING bit set but column i's;
        # the first argument is the highest bit.
        by_set = {everything ^ (1 << (len(columns) - 1 - i)): i for i in range(len(columns))}
        buckets: dict[str, list[dict]] = {column: [] for column in columns}
        total = 0
        for set_id, *values, count, _ in rows:
            if set_id == everything:
                total = count
            else:
                index = by_set[set_id]
                buckets[columns[index]].append({"term": as_json_value(values[index]), "count": count})
        return buckets, total

    def hits(self) -> list[dict]:
        query = self.query
        if not query.results_number:
            return []
        # Every column may have been protected: hits are then empty objects.
        selected = [column for _, column in query.columns] or ["uuid"]
        order = [order_by(column, descending) for column, descending in query.sort] or ["date_processed DESC"]
        rows = self.run(
            f"SELECT {', '.join(selected)} FROM reports WHERE {self.where} "
            f"ORDER BY {', '.join(order)}, uuid LIMIT :limit OFFSET :offset",
            limit=query.results_number, offset=query.results_offset,
        )
        names = [name for name, _ in query.columns]
        return [{name: as_json_value(value) for name, value in zip(names, row)} for row in rows]

    def cardinality(self, column: str) -> int:
        return self.run(f"SELECT count(DISTINCT {column}) FROM reports WHERE {self.where}")[0][0]

    def buckets(self, facet: Facet) -> list[dict]:
        """The buckets of a histogram or of a terms facet with nested ones."""
        term = bucket_sql(facet)
        extra = {"interval": facet.interval} if isinstance(facet.interval, int) else {}
        if facet.kind == "histogram":
            order, limit = "term", ""
        else:
            order, limit = "n DESC, term", "LIMIT :size"
            extra["size"] = self.query.facets_size
        rows = self.run(
            f"SELECT {term} AS term, count(*) AS n FROM reports WHERE {self.where} AND {term} IS NOT NULL "
            f"GROUP BY 1 ORDER BY {order} {limit}",
            **extra,
        )
        buckets = [{"term": as_json_value(value), "count": count} for value, count in rows]
        self.add_nested(facet, [value for value, _ in rows], buckets)
        return buckets

    def add_nested(self, parent: Facet, terms: list, buckets: list[dict]) -> None:
        """Each bucket's ``facets``: the nested facets over that bucket's reports."""
        for bucket in buckets:
            bucket["facets"] = {}
        if not terms:
            return
        index = {value: bucket for value, bucket in zip(terms, buckets)}
        term = bucket_sql(parent)
        extra = {"interval": parent.interval} if isinstance(parent.interval, int) else {}
        restrict = ""
        if parent.kind == "terms":
            restrict, extra["parents"] = f"AND {term} = ANY(:parents)", terms
        for nested in parent.nested:
            if nested.kind == "cardinality":
                rows = self.run(
                    f"SELECT {term}, count(DISTINCT {nested.column}) FROM reports "
                    f"WHERE {self.where} {restrict} GROUP BY 1",
                    **extra,
                )
                for value, count in rows:
                    if value in index:
                        index[value]["facets"][nested.key] = {"value": count}
                continue
            rows = self.run(
                f"SELECT parent, term, n FROM ("
                f" SELECT {term} AS parent, {nested.column} AS term, count(*) AS n,"
                f" row_number() OVER (PARTITION BY {term} ORDER BY count(*) DESC, {nested.column}) AS r"
                f" FROM reports WHERE {self.where} {restrict} AND {nested.column} IS NOT NULL GROUP BY 1, 2"
                f") ranked WHERE r <= :size ORDER BY parent, r",
                size=self.query.facets_size, **extra,
            )
            for bucket in buckets:
                bucket["facets"].setdefault(nested.key, [])
            for value, sub_term, count in rows:
                if value in index:
                    index[value]["facets"][nested.key].append({"term": as_json_value(sub_term), "count": count})
