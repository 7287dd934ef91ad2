"""Socorro's published crash schemas (crashflow/schemas, package data) as JSON Schema
validators, so tests can hold processed and raw crashes to the types tools expect.

The schemas are written in Socorro's socorro-data dialect: JSON Schema (draft 7) plus
keywords of its own. To validate, the dialect's own keywords are dropped (``permissions``,
``source_annotation``, ...), ``pattern_properties`` becomes ``patternProperties`` and the
type ``any`` means no type constraint. Fields a schema does not name are allowed, as
Socorro allows them.
"""

from __future__ import annotations

import functools
from importlib import resources

import jsonschema
import yaml

DIALECT_ONLY = {"permissions", "source_annotation", "nickname", "bugs", "data_reviews", "deprecated",
                "default_permissions", "examples", "$schema"}


def to_json_schema(node):
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {}
    for key, value in node.items():
        if key in DIALECT_ONLY:
            continue
        if key == "type" and (value == "any" or (isinstance(value, list) and "any" in value)):
            continue
        if key in ("properties", "definitions", "pattern_properties"):
            converted["patternProperties" if key == "pattern_properties" else key] = {
                name: to_json_schema(part) for name, part in value.items()
            }
            continue
        converted[key] = to_json_schema(value)
    return converted


def load(name: str) -> dict:
    text = resources.files("crashflow").joinpath(f"schemas/{name}.schema.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@functools.cache
def validator(name: str) -> jsonschema.Draft7Validator:
    """``processed_crash`` or ``raw_crash``."""
    return jsonschema.Draft7Validator(to_json_schema(load(name)))


def schema_errors(name: str, document: dict) -> list[str]:
    """Where ``document`` breaks schema ``name``: ``path: message`` lines, none when valid."""
    return sorted(f"{'.'.join(map(str, error.absolute_path)) or '(top)'}: {error.message[:200]}"
                  for error in validator(name).iter_errors(document))
