"""Protected data: the configured fields are removed for callers without ``view_pii``."""

from __future__ import annotations


PII_PERMISSION = "view_pii"


def field_key(name: str) -> str:
    """Names compare ignoring case and underscores: ``UserComments`` is ``user_comments``."""
    return name.replace("_", "").lower()


class Redactor:
    def __init__(self, protected_fields: list[str]):
        self.top_level = {field_key(name) for name in protected_fields if "." not in name}
        self.nested = [[field_key(part) for part in name.split(".")] for name in protected_fields if "." in name]

    def is_protected(self, name: str) -> bool:
        return field_key(name) in self.top_level

    def redact(self, document: dict) -> dict:
        """A copy of ``document`` without the protected fields (the original is untouched)."""
        public = {key: value for key, value in document.items() if field_key(key) not in self.top_level}
        for path in self.nested:
            public = _without_path(public, path)
        return public


def _without_path(document: dict, path: list[str]) -> dict:
    """``document`` without the field at ``path``; copies only what it changes."""
    head, rest = path[0], path[1:]
    for key, value in document.items():
        if field_key(key) != head:
            continue
        document = dict(document)
        if not rest:
            del document[key]
        elif isinstance(value, dict):
            document[key] = _without_path(value, rest)
        elif isinstance(value, list):
            document[key] = [_without_path(item, rest) if isinstance(item, dict) else item
                             for item in value]
        return document
    return document
