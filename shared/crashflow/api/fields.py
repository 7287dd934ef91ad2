"""``SuperSearchFields``: every searchable field, as Socorro describes its fields.

Built from ``REPORT_COLUMNS`` at each call, so a column added to ``reports`` shows up here
(and in SuperSearch) by itself.
"""

from __future__ import annotations

from crashflow.api.calls import Call, Reply, check_known_params
from crashflow.api.supersearch import ALIASES
from crashflow.reports import REPORT_COLUMNS

# reports column kind -> (Socorro query_type, data_validation_type)
SOCORRO_TYPES = {
    "text": ("string", "str"),
    "timestamp": ("date", "datetime"),
    "integer": ("integer", "int"),
    "boolean": ("bool", "bool"),
}


def field_description(name: str, column: str, protected: bool) -> dict:
    query_type, validation = SOCORRO_TYPES[REPORT_COLUMNS[column]]
    return {
        "name": name,
        "namespace": "processed_crash",
        "in_database_name": column,
        "query_type": query_type,
        "data_validation_type": validation,
        "permissions_needed": ["crashstats.view_pii"] if protected else [],
        "form_field_choices": [],
        "has_full_version": False,
        "is_exposed": True,
        "is_returned": True,
        "default_value": None,
        "description": "",
    }


def super_search_fields(services, call: Call) -> Reply:
    check_known_params(call.args, set())
    is_protected = services.redactor.is_protected
    fields = {column: field_description(column, column, is_protected(column)) for column in REPORT_COLUMNS}
    for alias, column in ALIASES.items():
        fields[alias] = field_description(alias, column, is_protected(column))
    return Reply(200, fields)
