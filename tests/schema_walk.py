"""An independent reading of Socorro's permission rule, straight from the schemas' YAML,
for the tests to hold ``crashflow.fields`` against."""

from __future__ import annotations

import re


def schema_paths(schema: dict) -> list[tuple[list[tuple[str, bool]], bool]]:
    """Every field of a schema as (steps, public): a step is (key, the field is an array);
    a pattern's field gets a key its pattern matches. Public: every field on the way says
    exactly ``["public"]`` (no mark means the schema's default permissions)."""
    default = schema["default_permissions"]
    definitions = schema.get("definitions", {})
    found = []

    def resolve(node):
        if "$ref" in node:
            node = {**definitions[node["$ref"].split("/")[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
        return node

    def visit(node, steps, public):
        node = resolve(node)
        while "items" in node and isinstance(node["items"], dict) and not node.get("properties"):
            node = resolve(node["items"])
        children = [(name, child) for name, child in (node.get("properties") or {}).items()]
        children += [(example_key(pattern), child) for pattern, child in (node.get("pattern_properties") or {}).items()]
        for key, child in children:
            child = resolve(child)
            child_public = public and child.get("permissions", default) == ["public"]
            is_array = "items" in child and isinstance(child["items"], dict)
            path = [*steps, (key, is_array)]
            found.append((path, child_public))
            visit(child, path, child_public)

    visit(schema, [], True)
    return found


def example_key(pattern: str) -> str:
    for candidate in ("ExampleKey", "example_key", "x"):
        if re.search(pattern, candidate):
            return candidate
    raise AssertionError(f"no example key for {pattern}")
