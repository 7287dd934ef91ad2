"""What Super Search and the signature page share: the fields a user may pick (from
``SuperSearchFields``), operators per field type, filter rows <-> SuperSearch parameters,
date presets, columns, sorting and pages.

A page's URL holds SuperSearch's own parameters (``product=X&version=2.0&_facets=platform
&_columns=uuid&_sort=-date``) plus the page's own few (``page``, ``tab``), so a page and an
API query are one edit apart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from crashflow.api import fields as fields_endpoint
from crashflow.api.calls import int_param, list_param
from crashflow.api.errors import BadRequest
from crashflow.api.supersearch import DEFAULT_COLUMNS, MAX_RESULTS, MAX_WINDOW, join_value, split_value
from crashflow.fields import PII_PERMISSION

# Parameters that belong to a page, not to SuperSearch.
PAGE_PARAMS = ("page", "tab", "thread")
# The filter builder's row fields (a submitted form; the page answers with a redirect to
# the same query in SuperSearch's own parameters).
ROW_PARAMS = ("field", "operator", "value", "remove")
PAGE_SIZES = (50, 100, 500)
DEFAULT_PAGE_SIZE = 50
PRESET_DAYS = (1, 3, 7, 14, 28)
# Shown first in field pickers, in this order; the rest follow alphabetically.
COMMON_FIELDS = ("product", "version", "signature", "date", "platform", "os_version", "cpu_arch",
                 "process_type", "release_channel", "build_id", "reason", "uuid")


@dataclass(frozen=True)
class Operator:
    key: str  # the form's value: the operator as SuperSearch writes it ("!~", "__null__")
    label: str
    takes_value: bool = True


# How the builder words each of SuperSearch's operators (a field's own are in
# SuperSearchFields), and its negation ("!") where the builder offers one.
OPERATOR_WORDS = {
    "=": ("is", "is not"),
    "~": ("contains", "does not contain"),
    "^": ("starts with", "does not start with"),
    "$": ("ends with", "does not end with"),
    "@": ("matches regex", "does not match regex"),
    ">=": ("on or after / at least", None),
    "<": ("before / less than", None),
    ">": ("after / more than", None),
    "<=": ("on or before / at most", None),
    "__true__": ("is true", "is not true"),
    "__null__": ("is missing", "exists"),
}
NO_VALUE = ("__true__", "__null__")
# Dates offer a range first: "on or after" a day is what a date filter usually means.
DATE_FIRST = (">=", "<")


def operator_choices(operators) -> list[Operator]:
    """The builder's choices for a field with SuperSearch ``operators``."""
    choices = []
    for symbol in operators:
        words = OPERATOR_WORDS.get(symbol)
        if words is None:
            continue
        takes_value = symbol not in NO_VALUE
        choices.append(Operator(symbol, words[0], takes_value))
        if words[1]:
            choices.append(Operator(f"!{symbol}", words[1], takes_value))
    return choices


OPERATORS = operator_choices(OPERATOR_WORDS)  # every choice, for a row without a field yet
OPERATOR_KEYS = {operator.key: operator for operator in OPERATORS}


def operator_key(raw: str) -> tuple[str, str]:
    """A SuperSearch value as (operator key, text): ``!~foo`` -> (``!~``, ``foo``)."""
    negated, operator, text = split_value(raw)
    symbol = f"__{operator}__" if operator in ("null", "true") else operator
    return ("!" if negated else "") + symbol, text


def value_for(key: str, text: str) -> str:
    """The SuperSearch value of a row: the inverse of ``operator_key``."""
    negated = key.startswith("!")
    symbol = key[1:] if negated else key
    if symbol in ("__null__", "__true__"):
        return join_value(negated, symbol.strip("_"))
    return join_value(negated, symbol or "=", text)


@dataclass
class Field:
    name: str
    query_type: str
    protected: bool
    operators: list[Operator]


class FieldCatalog:
    """The fields a caller may pick, with their operators: every SuperSearch field,
    protected ones only for a caller with ``view_pii``; the column an alias stands for is
    left out (``date``, not ``date_processed``)."""

    def __init__(self, page):
        described = page.ask(fields_endpoint.super_search_fields).body
        aliased = {description["in_database_name"] for name, description in described.items()
                   if name != description["in_database_name"]}
        allowed = page.may(PII_PERMISSION)
        self.fields: dict[str, Field] = {}
        for name, description in described.items():
            protected = bool(description["permissions_needed"])
            if name in aliased or (protected and not allowed):
                continue
            choices = operator_choices(description["operators"])
            if description["query_type"] == "date":
                choices.sort(key=lambda operator: operator.key not in DATE_FIRST)
            self.fields[name] = Field(name, description["query_type"], protected, choices)
        common = [name for name in COMMON_FIELDS if name in self.fields]
        self.ordered = common + sorted(set(self.fields) - set(common))

    def __contains__(self, name: str) -> bool:
        return name in self.fields

    def operators_of(self, name: str | None) -> list[Operator]:
        return self.fields[name].operators if name in self.fields else OPERATORS

    def operators_by_field(self) -> dict[str, list[list]]:
        """For the builder's script: field -> [[key, label, takes value], ...]."""
        return {name: [[op.key, op.label, op.takes_value] for op in field.operators]
                for name, field in self.fields.items()}


@dataclass
class FilterRow:
    field: str
    operator: str
    text: str

    @property
    def takes_value(self) -> bool:
        operator = OPERATOR_KEYS.get(self.operator)
        return operator is None or operator.takes_value


def filter_rows(args: MultiDict) -> list[FilterRow]:
    """The filters of a SuperSearch query string, one row per value."""
    rows = []
    for name, raw in args.items(multi=True):
        if name.startswith("_") or name in PAGE_PARAMS or name in ROW_PARAMS or raw == "":
            continue
        key, text = operator_key(raw)
        rows.append(FilterRow(name, key, text))
    return rows


def rows_from_form(args: MultiDict) -> list[tuple[str, str]]:
    """The builder's submitted rows as SuperSearch (field, value) pairs; empty rows and
    the one whose remove button was pressed are left out."""
    fields, operators, values = args.getlist("field"), args.getlist("operator"), args.getlist("value")
    removed = args.get("remove", type=int)
    pairs = []
    for index, (field, key) in enumerate(zip(fields, operators)):
        text = values[index] if index < len(values) else ""
        if index == removed or not field:
            continue
        operator = OPERATOR_KEYS.get(key)
        if operator is None:
            raise BadRequest(f"unknown operator {key[:20]!r}")
        if operator.takes_value and text == "":
            continue
        pairs.append((field, value_for(key, text.strip() if field != "signature" else text)))
    return pairs


def canonical_query(args: MultiDict, keep_page_params: bool = True) -> list[tuple[str, str]]:
    """A submitted builder form as a SuperSearch query string (rows first, then the
    special parameters; multi-valued lists joined by commas)."""
    pairs = rows_from_form(args)
    for name in ("_facets", "_columns"):
        if name in args:
            pairs.append((name, ",".join(list_param(args, name))))
    for name, value in args.items(multi=True):
        if name.startswith("_") and name not in ("_facets", "_columns", "_results_offset"):
            pairs.append((name, value))
        elif keep_page_params and name == "tab":
            pairs.append((name, value))
    return pairs


def search_params(args: MultiDict) -> list[tuple[str, str]]:
    """The SuperSearch parameters of a page's query string (the page's own left out)."""
    return [(name, value) for name, value in args.items(multi=True)
            if name not in PAGE_PARAMS and name not in ROW_PARAMS and name != "_results_offset"]


@dataclass
class Paging:
    page: int
    size: int

    @classmethod
    def of(cls, args: MultiDict) -> Paging:
        size = int_param(args, "_results_number", DEFAULT_PAGE_SIZE, 1, MAX_RESULTS)
        page = int_param(args, "page", 1, 1, MAX_WINDOW)
        if page * size > MAX_WINDOW:
            raise BadRequest(f"only the first {MAX_WINDOW:,} results can be paged through "
                             f"(page {MAX_WINDOW // size} at {size} a page); narrow the search")
        return cls(page, size)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def last_page(self, total: int) -> int:
        reachable = min(total, MAX_WINDOW)
        return max(1, -(-reachable // self.size))

    def window(self, total: int) -> list[int | None]:
        """Page numbers to offer: the first, the last and two either side of this one
        (None where numbers are skipped)."""
        last = self.last_page(total)
        wanted = sorted({1, last, *range(max(1, self.page - 2), min(last, self.page + 2) + 1)})
        shown: list[int | None] = []
        for number in wanted:
            if shown and number - shown[-1] > 1:
                shown.append(None)
            shown.append(number)
        return shown


def columns(args: MultiDict, catalog: FieldCatalog) -> list[str]:
    chosen = list_param(args, "_columns") or list(DEFAULT_COLUMNS)
    return [name for name in chosen if name in catalog or name == "uuid"]


def sort_key(args: MultiDict) -> tuple[str, bool]:
    """(field, descending) of the first sort; the date, newest first, by default."""
    sorts = list_param(args, "_sort")
    if not sorts:
        return "date", True
    return sorts[0].removeprefix("-"), sorts[0].startswith("-")


@dataclass(frozen=True)
class Preset:
    days: int
    start: dt.date

    @property
    def value(self) -> str:
        return f">={self.start.isoformat()}"

    @property
    def label(self) -> str:
        return f"{self.days} day{'' if self.days == 1 else 's'}"


def presets(today: dt.date | None = None) -> list[Preset]:
    """Date presets: the last N whole UTC days, today included (as top crashers count)."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    return [Preset(days, today - dt.timedelta(days=days - 1)) for days in PRESET_DAYS]


def current_preset(args: MultiDict, today: dt.date | None = None) -> int | None:
    """The preset the page's dates are (ending today, or tomorrow exclusive: the same)."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    dates = args.getlist("date")
    tomorrow = f"<{(today + dt.timedelta(days=1)).isoformat()}"
    for preset in presets(today):
        if dates in ([preset.value], [preset.value, tomorrow]):
            return preset.days
    return None
