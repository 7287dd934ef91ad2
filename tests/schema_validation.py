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


def protected_paths(name: str) -> list[str]:
    """The dotted paths of every field schema ``name`` marks protected (its own
    ``permissions``, or the schema's ``default_permissions`` where it has none); lists are
    stepped through, pattern fields left out (they have no fixed name)."""
    schema = load(name)
    definitions, default = schema.get("definitions", {}), schema.get("default_permissions", [])
    found = []

    def visit(node: dict, path: str, seen: tuple[str, ...]) -> None:
        ref = node.get("$ref", "")
        if ref.startswith("#/definitions/"):
            target = ref.rsplit("/", 1)[1]
            if target in seen:
                return
            node, seen = {**definitions[target], **{k: v for k, v in node.items() if k != "$ref"}}, (*seen, target)
        if path and "protected" in node.get("permissions", default):
            found.append(path)
        if isinstance(node.get("items"), dict):
            visit(node["items"], path, seen)
        for child, part in (node.get("properties") or {}).items():
            visit(part, f"{path}.{child}" if path else child, seen)

    visit(schema, "", ())
    return found
