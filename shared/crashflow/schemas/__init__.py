"""Socorro's published crash schemas, shipped as package data (README.md and LICENSE.socorro
beside them say where they come from).

- ``processed_crash``: every field of a processed crash, its type, meaning and permissions;
- ``raw_crash``: the annotations of a raw crash, likewise;
- ``socorro-data-1-0-0``: the meta-schema both are written in (JSON Schema plus Socorro's
  keywords ``permissions``, ``pattern_properties``, ``source_annotation``, ...).

``crashflow.fields`` reads the ``permissions`` for what anyone may see; clients validate
crashes against the same copies.
"""

from __future__ import annotations

import copy
import functools
from importlib import resources

import yaml

SCHEMA_NAMES = ("processed_crash", "raw_crash", "socorro-data-1-0-0")
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def schema_text(name: str) -> str:
    """The schema file ``name`` (one of ``SCHEMA_NAMES``) as written."""
    if name not in SCHEMA_NAMES:
        raise ValueError(f"no schema {name!r}; there are {', '.join(SCHEMA_NAMES)}")
    return resources.files(__package__).joinpath(f"{name}.schema.yaml").read_text(encoding="utf-8")


@functools.cache
def _parsed(name: str) -> dict:
    return yaml.load(schema_text(name), Loader=_YAML_LOADER)


def load_schema(name: str) -> dict:
    """The schema ``name`` parsed; a copy of its own for each caller, free to change."""
    return copy.deepcopy(_parsed(name))
