"""Field definitions: what every field of a crash is, and whether anyone may see it.

crashflow is *protected by default*, as Mozilla's crash-stats is: a caller without the
``view_pii`` permission sees a field only when it is known to be public. The decisions are
all made here:

1. Socorro's schemas (``crashflow/schemas/``) mark each processed-crash and raw-crash field
   with ``permissions``: ``["public"]`` is public; ``["protected"]``, ``["public",
   "protected"]`` and no mark at all (the schemas' ``default_permissions``) are protected.
   A protected field hides everything inside it.
2. ``CRASHFLOW_PROCESSED_FIELDS`` and ``CRASHFLOW_RAW_FIELDS`` (below) decide the fields
   crashflow writes or reads that Socorro's schemas do not list, each with its reason.
3. An installation makes its own annotations public with ``CRASHFLOW_PUBLIC_ANNOTATIONS``
   and protects more with ``CRASHFLOW_PROTECTED_FIELDS`` (``crashflow.settings``); both are
   checked when the settings are read, so a bad entry stops the function from starting.

Anything else is withheld: an annotation no definition lists, a nested value the schema
does not describe, the collector's ``metadata``.

The API, for the query function, the processor and the web UI's data dictionary:

- ``field_definitions(public_annotations, protected_fields)`` (or
  ``FieldDefinitions.from_settings(settings)``) -> ``FieldDefinitions`` with
  ``.processed_crash`` and ``.raw_crash`` (``DocumentFields``) and ``.search_fields``;
- ``DocumentFields.public_view(document)`` -> ``PublicView``: the copy of ``document``
  anyone may see and a ``Withheld`` telling what it leaves out;
- ``DocumentFields.is_public(path)`` / ``.field(path)`` / ``.walk()``: one field's decision
  (a path is dotted, lists are stepped through: ``json_dump.threads.frames.registers``),
  or every listed field with its definition and decision (``crashflow fields`` prints them);
- ``FieldDefinitions.search_fields``: every SuperSearch field (``SearchField``: column,
  type, operators, description, public or not).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from crashflow.reports import REPORT_COLUMNS
from crashflow.schemas import load_schema

# The permission that shows protected fields.
PII_PERMISSION = "view_pii"

PUBLIC = "public"
PROTECTED = "protected"


@dataclass(frozen=True)
class FieldNode:
    """One field: its decision, what it is, and the fields inside it (an object's
    ``properties`` and ``patterns``, an array's ``items``). Read-only once built."""

    public: bool
    types: tuple[str, ...] = ()
    description: str = ""
    origin: str = "socorro"  # who decided: "socorro", "crashflow" or "operator"
    properties: Mapping[str, FieldNode] = field(default_factory=dict)
    patterns: tuple[tuple[re.Pattern, FieldNode], ...] = ()
    items: FieldNode | None = None

    @functools.cached_property
    def public_leaves(self) -> frozenset[str]:
        """Names of the public fields inside that hold no fields themselves: a plain value
        under one of these names is kept as it is (the common case, made quick)."""
        node = self
        while node.items is not None:
            node = node.items
        return frozenset(name for name, child in node.properties.items()
                         if child.public and not child.properties and not child.patterns and child.items is None)

    def child(self, key: str) -> FieldNode | None:
        """The definition of ``key`` inside this field (lists stepped through), or None."""
        node = self
        while node.items is not None:
            node = node.items
        found = node.properties.get(key)
        if found is not None:
            return found
        for pattern, pattern_node in node.patterns:
            if pattern.search(key):
                return pattern_node
        return None


def own(public: bool, types: str | tuple[str, ...], description: str, **properties: FieldNode) -> FieldNode:
    """A field crashflow defines itself."""
    return FieldNode(
        public=public,
        types=(types,) if isinstance(types, str) else types,
        description=description,
        origin="crashflow",
        properties=properties,
    )


# The processed-crash fields crashflow writes that Socorro's schema does not list. (Socorro's
# schema decides every field it lists; a field here must not override one of them.)
CRASHFLOW_PROCESSED_FIELDS: dict[str, FieldNode] = {
    "email": own(False, "string", "The Email annotation: a person's address. Collectors drop it by "
                 "default (CRASHFLOW_DROP_ANNOTATIONS); an installation that keeps it protects it."),
    "hangid": own(True, "string", "The HangID annotation: a random id that pairs the reports of one hang "
                  "(say, a browser's and a plugin's); says nothing about the user."),
    "hang_type": own(True, "integer", "1: a hang with a HangID; -1: a hang the Hang annotation reports; 0: a crash."),
    "assertion": own(True, "string", "The stackwalker's crash_info.assertion (public in json_dump too)."),
    "ruleset": own(True, "string", "The processor's rule set that made this: default, or regenerate_signature."),
    # What rust-minidump's minidump-stackwalk writes beyond the fields Socorro's schema lists.
    "json_dump.process_uptime": own(True, "integer", "How long the process ran before it crashed, in seconds."),
    "json_dump.linux_memory_map_count": own(True, "integer", "How many memory mappings the process had (Linux)."),
    "json_dump.crash_info.adjusted_address": own(
        True, ("object", "null"), "The crash address, adjusted (say, a non-canonical address) by the stackwalker.",
        kind=own(True, "string", "What the adjustment was."),
        address=own(True, "string", "The adjusted address."),
    ),
    "json_dump.crash_info.instruction_pointer_update": own(
        True, ("object", "null"), "The instruction pointer's change the crash caused, if any.",
        kind=own(True, "string", "What the change was."),
        address=own(True, "string", "The new instruction pointer."),
    ),
    "json_dump.crash_info.memory_accesses.access_type": own(True, "string", "read or write."),
    "json_dump.crashing_thread.thread_id": own(True, "integer", "The operating system's id of the thread."),
    "json_dump.threads.thread_id": own(True, "integer", "The operating system's id of the thread."),
    "json_dump.handles": own(False, ("array", "null"), "Windows handles the process held, with the names of "
                             "the objects they point at (file paths may carry user names)."),
    "json_dump.proc_limits": own(False, ("object", "null"), "The process's resource limits (Linux)."),
}

# Annotations crashflow reads that Socorro's raw-crash schema does not list: the names
# Electron, Crashpad and old Breakpad clients send. Socorro lists Firefox's.
CRASHFLOW_RAW_FIELDS: dict[str, FieldNode] = {
    "prod": own(True, "string", "Product name (old Breakpad uploaders; Electron's own, \"Electron\")."),
    "ver": own(True, "string", "Product version (old Breakpad uploaders; Electron's own version)."),
    "_productName": own(True, "string", "The app's name (Electron); fills ProductName."),
    "_version": own(True, "string", "The app's version (Electron); fills Version."),
    "_companyName": own(True, "string", "The app's publisher (Electron)."),
    "product": own(True, "string", "Product name (Crashpad's URL parameter or a body field); fills ProductName."),
    "platform": own(True, "string", "Operating system as Electron names it (win32, darwin, linux)."),
    "process_type": own(True, "string", "Electron's process type (browser, renderer, gpu-process, ...)."),
    "os_name": own(True, "string", "Operating system name, for crashes without a dump."),
    "os_version": own(True, "string", "Operating system version, for crashes without a dump."),
    "cpu_arch": own(True, "string", "CPU architecture, for crashes without a dump."),
    "HangID": own(True, "string", "A random id that pairs the reports of one hang (processed: hangid)."),
    "guid": own(False, "string", "Crashpad's client id: one per installation, so it follows a user."),
    "Email": own(False, "string", "A person's e-mail address (collectors drop it by default)."),
}

# Every additional dump (``upload_file_minidump_<name>``) is processed as Socorro processes
# ``upload_file_minidump_browser``, so each has that field's definition.
ADDITIONAL_DUMP = re.compile(r"^upload_file_minidump_[A-Za-z0-9_]+$")
ADDITIONAL_DUMP_MODEL = "upload_file_minidump_browser"

# Annotation names an installation may make public (CRASHFLOW_PUBLIC_ANNOTATIONS).
ANNOTATION_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")


# --- Reading Socorro's schemas ---------------------------------------------------------


def _types(value) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _is_public(permissions: list[str]) -> bool:
    """Socorro shows a field to a user holding every permission it lists; everyone holds
    ``public``, only ``view_pii`` holders ``protected``."""
    return bool(permissions) and all(permission == PUBLIC for permission in permissions)


def node_from_schema(schema: dict, definitions: dict, default_permissions: list[str]) -> FieldNode:
    """The ``FieldNode`` of one schema node (``$ref`` resolved; the referring node's own
    keys, such as ``permissions``, win over the definition's)."""
    if "$ref" in schema:
        referred = definitions[schema["$ref"].rsplit("/", 1)[-1]]
        schema = {**referred, **{key: value for key, value in schema.items() if key != "$ref"}}
    build = functools.partial(node_from_schema, definitions=definitions, default_permissions=default_permissions)
    return FieldNode(
        public=_is_public(schema.get("permissions", default_permissions)),
        types=_types(schema.get("type")),
        description=(schema.get("description") or "").strip(),
        properties={name: build(child) for name, child in (schema.get("properties") or {}).items()},
        patterns=tuple((re.compile(pattern), build(child))
                       for pattern, child in (schema.get("pattern_properties") or {}).items()),
        items=build(schema["items"]) if isinstance(schema.get("items"), dict) else None,
    )


def document_from_schema(name: str) -> FieldNode:
    """The root of a document (``processed_crash`` or ``raw_crash``) from Socorro's schema."""
    schema = load_schema(name)
    root = node_from_schema(schema, schema.get("definitions") or {}, schema.get("default_permissions") or [])
    return dataclasses.replace(root, public=True)


def _with_fields(root: FieldNode, own_fields: Mapping[str, FieldNode], kind: str) -> FieldNode:
    """``root`` with crashflow's fields added (a dotted name goes inside the field it names)."""
    for path, node in own_fields.items():
        parts = path.split(".")

        def add(parent: FieldNode, name=parts[-1], node=node) -> FieldNode:
            if parent.items is not None:
                return dataclasses.replace(parent, items=add(parent.items))
            if name in parent.properties:
                raise ValueError(f"crashflow's {kind} field {path} is Socorro's: its schema decides it")
            return dataclasses.replace(parent, properties={**parent.properties, name: node})

        root = _replaced(root, parts[:-1], add) if len(parts) > 1 else add(root)
    return root


@functools.cache
def default_documents() -> tuple[FieldNode, FieldNode]:
    """The processed and raw crash as Socorro and crashflow define them (no operator's changes)."""
    processed = _with_fields(document_from_schema("processed_crash"), CRASHFLOW_PROCESSED_FIELDS, "processed")
    processed = dataclasses.replace(
        processed, patterns=(*processed.patterns, (ADDITIONAL_DUMP, processed.properties[ADDITIONAL_DUMP_MODEL])),
    )
    raw = _with_fields(document_from_schema("raw_crash"), CRASHFLOW_RAW_FIELDS, "raw")
    return processed, raw


# --- Withholding ------------------------------------------------------------------------


@dataclass
class Withheld:
    """What a public view left out. Fields the definitions name are listed by path; the
    others (say, an app's own annotations) are only counted: their names may be private too."""

    fields: set[str] = field(default_factory=set)
    unlisted_paths: set[str] = field(default_factory=set)

    @property
    def count(self) -> int:
        return len(self.fields) + len(self.unlisted_paths)

    def as_json(self) -> dict:
        """The answer's ``_withheld`` value (see README, "Protected data")."""
        return {
            "count": self.count,
            "fields": sorted(self.fields),
            "unlisted": len(self.unlisted_paths),
            "permission": PII_PERMISSION,
        }


@dataclass
class PublicView:
    document: dict
    withheld: Withheld


def _public_value(value, node: FieldNode, prefix: str, withheld: Withheld):
    """``value`` with only what ``node`` (a public field) lists as public. A list's items
    follow ``items`` (else the list's own definition: a list of plain values where the
    schema says one value, as crashflow writes ``modules_in_stack``)."""
    if isinstance(value, dict):
        while node.items is not None:
            node = node.items
        leaves = node.public_leaves
        kept = {}
        for key, item in value.items():
            if key in leaves and not isinstance(item, (dict, list)):
                kept[key] = item
                continue
            child = node.properties.get(key)
            named = child is not None
            if not named:
                child = node.child(key)
            if child is None or (not child.public and not named):
                withheld.unlisted_paths.add(prefix + str(key))
            elif not child.public:
                withheld.fields.add(prefix + key)
            elif isinstance(item, (dict, list)):
                kept[key] = _public_value(item, child, f"{prefix}{key}.", withheld)
            else:
                kept[key] = item
        return kept
    if isinstance(value, list):
        item_node = node.items or node
        return [_public_value(item, item_node, prefix, withheld) if isinstance(item, (dict, list)) else item
                for item in value]
    return value


class DocumentFields:
    """The field definitions of one kind of document (``processed_crash`` or ``raw_crash``)."""

    def __init__(self, kind: str, root: FieldNode):
        self.kind = kind
        self.root = root

    def field(self, path: str) -> FieldNode | None:
        """The definition at dotted ``path`` (lists stepped through), or None."""
        node = self.root
        for part in path.split("."):
            node = node.child(part)
            if node is None:
                return None
        return node

    def is_public(self, path: str) -> bool:
        """May anyone see the field at ``path``? Only when it and every field around it is
        public; an unlisted field is not."""
        node = self.root
        for part in path.split("."):
            node = node.child(part)
            if node is None or not node.public:
                return False
        return True

    def public_view(self, document: dict) -> PublicView:
        """A copy of ``document`` with only its public fields (``document`` is untouched)."""
        withheld = Withheld()
        return PublicView(_public_value(document, self.root, "", withheld), withheld)

    def walk(self) -> Iterator[tuple[str, FieldNode, bool]]:
        """Every field the definitions name, parents first, as (dotted path, definition,
        whether anyone may see it: it and every field around it public); a pattern's
        fields appear as ``<path>./<pattern>/``."""
        def visit(node: FieldNode, prefix: str, visible: bool):
            while node.items is not None:
                node = node.items
            children = [(name, child) for name, child in node.properties.items()]
            children += [(f"/{pattern.pattern}/", child) for pattern, child in node.patterns]
            for name, child in children:
                yield prefix + name, child, visible and child.public
                yield from visit(child, f"{prefix}{name}.", visible and child.public)
        yield from visit(self.root, "", True)


# --- SuperSearch ------------------------------------------------------------------------

# SuperSearch's other names for columns (Socorro's).
SEARCH_ALIASES = {"date": "date_processed", "platform": "os_name", "build_id": "build"}
# The operators each kind of column takes; "!" before any of them negates it.
TEXT_OPERATORS = ("~", "^", "$", "@")
RANGE_OPERATORS = (">=", "<=", ">", "<")
OPERATORS_BY_KIND = {
    "text": ("=", *TEXT_OPERATORS, "__null__"),
    "integer": ("=", *RANGE_OPERATORS, "__null__"),
    "timestamp": ("=", *RANGE_OPERATORS, "__null__"),
    "boolean": ("=", "__true__", "__null__"),
}


@dataclass(frozen=True)
class SearchField:
    """One SuperSearch field: a ``reports`` column under its own name or an alias."""

    name: str
    column: str
    kind: str  # text, integer, timestamp or boolean (``reports.REPORT_COLUMNS``)
    operators: tuple[str, ...]
    description: str
    public: bool


def _search_fields(processed: DocumentFields) -> dict[str, SearchField]:
    names = {column: column for column in REPORT_COLUMNS}
    names.update(SEARCH_ALIASES)
    fields = {}
    for name, column in names.items():
        definition = processed.field(column)
        if definition is None:
            raise ValueError(f"reports column {column} is not a processed-crash field: define it in crashflow.fields")
        kind = REPORT_COLUMNS[column]
        fields[name] = SearchField(
            name=name, column=column, kind=kind, operators=OPERATORS_BY_KIND[kind],
            description=definition.description, public=processed.is_public(column),
        )
    return fields


# --- Everything together, with an installation's changes ----------------------------------


def _replaced(node: FieldNode, parts: list[str], change) -> FieldNode:
    """``node`` with the field at ``parts`` replaced by ``change(that field)``."""
    if node.items is not None:
        return dataclasses.replace(node, items=_replaced(node.items, parts, change))
    head, rest = parts[0], parts[1:]
    current = node.properties[head]
    new = _replaced(current, rest, change) if rest else change(current)
    return dataclasses.replace(node, properties={**node.properties, head: new})


def check_public_annotations(names: Iterable[str]) -> list[str]:
    """Problems with CRASHFLOW_PUBLIC_ANNOTATIONS (an empty list when there are none)."""
    problems = []
    raw = DocumentFields("raw_crash", default_documents()[1])
    for name in names:
        if not ANNOTATION_NAME.match(name):
            problems.append(f"public_annotations: {name!r} is not an annotation name "
                            "(1-100 letters, digits, '_', '-' or '.')")
            continue
        definition = raw.field(name)
        if definition is not None and not definition.public:
            decided = "Socorro's raw crash schema" if definition.origin == "socorro" else "crashflow.fields"
            problems.append(f"public_annotations: {name} is protected by {decided}; this list is for "
                            "an installation's own annotations")
    return problems


def check_protected_fields(paths: Iterable[str]) -> list[str]:
    """Problems with CRASHFLOW_PROTECTED_FIELDS (an empty list when there are none)."""
    problems = []
    processed, raw = default_documents()
    documents = {"processed_crash": DocumentFields("processed_crash", processed),
                 "raw_crash": DocumentFields("raw_crash", raw)}
    for path in paths:
        kind, _, rest = path.partition(".")
        if kind not in documents or not rest:
            problems.append(f"protected_fields: {path!r} must be processed_crash.<field> or raw_crash.<annotation>")
        elif documents[kind].field(rest) is None:
            problems.append(f"protected_fields: {path} is not a field the definitions list "
                            "(unlisted fields are protected already)")
        elif not _named_path(documents[kind].root, rest.split(".")):
            problems.append(f"protected_fields: {path} names a pattern's field; protect the field around it")
    return problems


# The settings that change the definitions, and their checks (``Settings`` runs them).
SETTING_CHECKS = {"public_annotations": check_public_annotations, "protected_fields": check_protected_fields}


def _named_path(node: FieldNode, parts: list[str]) -> bool:
    for part in parts:
        while node.items is not None:
            node = node.items
        if part not in node.properties:
            return False
        node = node.properties[part]
    return True


class FieldDefinitions:
    """The processed and raw crash's field definitions, with an installation's changes,
    and the SuperSearch fields built on them."""

    def __init__(self, public_annotations: Iterable[str] = (), protected_fields: Iterable[str] = ()):
        public_annotations, protected_fields = list(public_annotations), list(protected_fields)
        problems = check_public_annotations(public_annotations) + check_protected_fields(protected_fields)
        if problems:
            raise ValueError("; ".join(problems))
        processed, raw = default_documents()
        for name in public_annotations:
            if raw.properties.get(name) is None:
                raw = dataclasses.replace(raw, properties={**raw.properties, name: FieldNode(
                    public=True, types=("string",), origin="operator",
                    description="An annotation this installation made public (CRASHFLOW_PUBLIC_ANNOTATIONS).",
                )})
        roots = {"processed_crash": processed, "raw_crash": raw}
        for path in protected_fields:
            kind, _, rest = path.partition(".")
            roots[kind] = _replaced(roots[kind], rest.split("."),
                                    lambda node: dataclasses.replace(node, public=False, origin="operator"))
        self.processed_crash = DocumentFields("processed_crash", roots["processed_crash"])
        self.raw_crash = DocumentFields("raw_crash", roots["raw_crash"])
        self.search_fields: dict[str, SearchField] = _search_fields(self.processed_crash)

    @classmethod
    def from_settings(cls, settings) -> FieldDefinitions:
        return cls(settings.public_annotations, settings.protected_fields)


def field_definitions(public_annotations: Iterable[str] = (), protected_fields: Iterable[str] = ()) -> FieldDefinitions:
    """The field definitions, with an installation's public annotations and protected
    fields (``ValueError`` naming every bad entry)."""
    return FieldDefinitions(public_annotations, protected_fields)


@functools.cache
def default_definitions() -> FieldDefinitions:
    """The field definitions without an installation's changes (tests, tools)."""
    return FieldDefinitions()
