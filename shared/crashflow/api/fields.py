"""``SuperSearchFields``: every searchable field, as Socorro describes its fields.

Built from the field definitions (``crashflow.fields``: a ``reports`` column or an alias,
its type, operators, description and whether it is protected), so a column added to
``reports`` shows up here and in SuperSearch by itself.
"""

from __future__ import annotations

from crashflow.api.calls import Call, Reply, check_known_params
from crashflow.fields import PII_PERMISSION, SearchField

# reports column kind -> (Socorro query_type, data_validation_type)
SOCORRO_TYPES = {
    "text": ("string", "str"),
    "timestamp": ("date", "datetime"),
    "integer": ("integer", "int"),
    "boolean": ("bool", "bool"),
}


def field_description(search_field: SearchField) -> dict:
    query_type, validation = SOCORRO_TYPES[search_field.kind]
    return {
        "name": search_field.name,
        "namespace": "processed_crash",
        "in_database_name": search_field.column,
        "query_type": query_type,
        "data_validation_type": validation,
        "permissions_needed": [] if search_field.public else [f"crashstats.{PII_PERMISSION}"],
        "form_field_choices": [],
        "has_full_version": False,
        "is_exposed": True,
        "is_returned": True,
        "default_value": None,
        "description": search_field.description,
        "operators": list(search_field.operators),
    }


def super_search_fields(services, call: Call) -> Reply:
    check_known_params(call.args, set())
    return Reply(200, {name: field_description(f) for name, f in services.fields.search_fields.items()})
