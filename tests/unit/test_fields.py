"""The field definitions: Socorro's schemas' permissions, crashflow's own fields, an
installation's changes, and public views of documents (no services needed)."""

from __future__ import annotations

import copy
import fnmatch
import re
import tomllib
from importlib import resources

import pydantic
import pytest

from conftest import REPO
from schema_walk import schema_paths
from crashflow import fields
from crashflow.fields import (
    CRASHFLOW_PROCESSED_FIELDS,
    CRASHFLOW_RAW_FIELDS,
    FieldNode,
    default_definitions,
    field_definitions,
)
from crashflow.reports import REPORT_COLUMNS
from crashflow.schemas import SCHEMA_NAMES, load_schema
from crashflow.settings import Settings

DEFINITIONS = default_definitions()


def document_with(steps, value):
    """A document holding ``value`` at ``steps`` (arrays as one-item lists)."""
    for key, is_array in reversed(steps):
        value = {key: [value] if is_array else value}
    return value


def value_at(document, steps):
    for key, is_array in steps:
        if not isinstance(document, dict) or key not in document:
            return None
        document = document[key]
        if is_array:
            if not document:
                return None
            document = document[0]
    return document


@pytest.mark.parametrize("kind", ["processed_crash", "raw_crash"])
def test_every_schema_field_is_seen_exactly_when_public(kind):
    """Each field of Socorro's schemas, alone in a document: the public view keeps it
    exactly when it and every field around it are marked public."""
    document_fields = getattr(DEFINITIONS, kind)
    paths = schema_paths(load_schema(kind))
    assert len(paths) > (600 if kind == "processed_crash" else 120)
    for steps, public in paths:
        leaf = "value of " + ".".join(key for key, _ in steps)
        view = document_fields.public_view(document_with(steps, leaf))
        assert (value_at(view.document, steps) == leaf) is public, steps
        dotted = ".".join(key for key, _ in steps)
        assert document_fields.is_public(dotted) is public, dotted
        if not public:
            assert view.withheld.count >= 1


def top_level(kind):
    schema = load_schema(kind)
    public = [name for name, node in schema["properties"].items() if node.get("permissions") == ["public"]]
    return public, [name for name in schema["properties"] if name not in public]


def test_counts_and_examples_from_the_issue():
    public, protected = top_level("processed_crash")
    assert (len(public), len(protected)) == (142, 24)
    for name in ("mdsw_stderr", "moz_crash_reason_raw", "breadcrumbs", "user_comments", "url"):
        assert name in protected and not DEFINITIONS.processed_crash.is_public(name)
    assert all(DEFINITIONS.processed_crash.is_public(name) for name in public)
    raw_public, raw_protected = top_level("raw_crash")
    assert "metadata" in raw_protected and not DEFINITIONS.raw_crash.is_public("metadata")
    assert all(DEFINITIONS.raw_crash.is_public(name) for name in raw_public)
    assert not any(DEFINITIONS.raw_crash.is_public(name) for name in raw_protected)


def test_a_crash_from_the_issue():
    raw = {"ProductName": "App", "Version": "1.0", "CustomerEmail": "alice@example.com",
           "AccessToken": "sk_live_123", "URL": "https://bank.example", "metadata": {"user_agent": "x"}}
    view = DEFINITIONS.raw_crash.public_view(raw)
    assert view.document == {"ProductName": "App", "Version": "1.0"}
    withheld = view.withheld.as_json()
    assert withheld == {"count": 4, "fields": ["URL", "metadata"], "unlisted": 2, "permission": "view_pii"}
    assert "CustomerEmail" not in repr(withheld) and "AccessToken" not in repr(withheld)
    assert raw["CustomerEmail"] == "alice@example.com" and "metadata" in raw  # the original is untouched


def test_nested_values_not_listed_are_withheld():
    processed = {
        "signature": "s",
        "json_dump": {
            "threads": [{"frames": [{"function": "f", "registers": {"rip": "0x1"}, "mystery": 1}], "own": 2}],
            "sensitive": {"exploitability": "high"},
            "modules": [{"filename": "a.dll", "debug_id": "X"}],
        },
        "memory_report": {"big": 1},
        "app_private_thing": [1, 2],
    }
    original = copy.deepcopy(processed)
    view = DEFINITIONS.processed_crash.public_view(processed)
    assert view.document == {
        "signature": "s",
        "json_dump": {"threads": [{"frames": [{"function": "f"}]}], "modules": [{"filename": "a.dll", "debug_id": "X"}]},
    }
    assert view.withheld.fields == {"json_dump.threads.frames.registers", "memory_report"}
    assert view.withheld.count == 6  # + mystery, own, sensitive, app_private_thing (counted, not named)
    assert processed == original


def test_a_protected_pattern_field_is_counted_not_named():
    """A key a pattern matches is data (a pref's name, say): withheld, it is only counted."""
    prefs = FieldNode(public=True, patterns=((re.compile("^.+$"), FieldNode(public=False)),))
    document_fields = fields.DocumentFields("test", FieldNode(public=True, properties={"prefs": prefs}))
    view = document_fields.public_view({"prefs": {"alice@example.com": "1"}})
    assert view.document == {"prefs": {}}
    assert view.withheld.as_json() == {"count": 1, "fields": [], "unlisted": 1, "permission": "view_pii"}


def test_additional_dumps_are_defined_as_the_browser_one():
    processed = {"upload_file_minidump_content": {"json_dump": {"pid": 3}, "mdsw_stderr": "secret path",
                                                  "mdsw_status_string": "OK"}}
    view = DEFINITIONS.processed_crash.public_view(processed)
    assert view.document == {"upload_file_minidump_content": {"json_dump": {"pid": 3}, "mdsw_status_string": "OK"}}


def test_crashflow_fields_have_a_decision_and_a_reason_and_never_override_socorro():
    for own, document_fields, kind in ((CRASHFLOW_PROCESSED_FIELDS, DEFINITIONS.processed_crash, "processed_crash"),
                                       (CRASHFLOW_RAW_FIELDS, DEFINITIONS.raw_crash, "raw_crash")):
        for path, node in own.items():
            assert node.origin == "crashflow" and node.description, path
            assert document_fields.field(path) is node
        socorro = fields.document_from_schema(kind)
        with pytest.raises(ValueError, match="Socorro's"):
            name = next(iter(socorro.properties))
            fields._with_fields(socorro, {name: FieldNode(public=True)}, kind)
    assert not DEFINITIONS.processed_crash.is_public("email")
    assert not DEFINITIONS.raw_crash.is_public("guid") and not DEFINITIONS.raw_crash.is_public("Email")
    assert DEFINITIONS.raw_crash.is_public("_productName") and DEFINITIONS.processed_crash.is_public("hangid")


def test_every_search_field_is_a_defined_processed_field():
    search = DEFINITIONS.search_fields
    assert set(REPORT_COLUMNS) | {"date", "platform", "build_id"} == set(search)
    for name, search_field in search.items():
        assert search_field.public == DEFINITIONS.processed_crash.is_public(search_field.column)
        assert search_field.description, name
        assert search_field.operators[0] == "="
    assert {name for name, f in search.items() if not f.public} == {"url", "email", "user_comments"}
    assert "~" in search["signature"].operators and ">=" in search["date"].operators
    assert "__true__" in search["success"].operators and "~" not in search["uptime"].operators


def test_walk_lists_every_named_field_with_its_decision():
    walked = {path: visible for path, _, visible in DEFINITIONS.processed_crash.walk()}
    assert walked["json_dump.threads.frames.registers"] is False
    assert walked["json_dump.threads.frames.function"] is True
    assert walked["breadcrumbs.data./^.+$/"] is False
    for path, visible in walked.items():
        if "/" not in path:
            assert visible == DEFINITIONS.processed_crash.is_public(path), path
    raw = {path: (node, visible) for path, node, visible in DEFINITIONS.raw_crash.walk()}
    assert raw["metadata./^.+$/"][1] is False and raw["ProductName"][1] is True
    assert raw["guid"][0].origin == "crashflow"


def test_the_fields_command_prints_every_decision(monkeypatch):
    from click.testing import CliRunner

    from crashflow import cli

    monkeypatch.setattr(cli, "get_settings", lambda: Settings(public_annotations=["BuildFlavor"]))
    result = CliRunner().invoke(cli.main, ["fields", "raw_crash"])
    assert result.exit_code == 0, result.output
    lines = {line.split("\t")[2]: line.split("\t") for line in result.output.splitlines()}
    assert lines["URL"][:2] == ["protected", "socorro"] and lines["ProductName"][:2] == ["public", "socorro"]
    assert lines["BuildFlavor"][:2] == ["public", "operator"] and lines["guid"][:2] == ["protected", "crashflow"]
    protected = CliRunner().invoke(cli.main, ["fields", "processed_crash", "--protected"]).output
    assert "\turl\t" in protected and "\tsignature\t" not in protected


# --- An installation's changes -------------------------------------------------------------

def test_public_annotations_make_an_installations_own_annotations_public():
    definitions = field_definitions(public_annotations=["BuildFlavor", "Game.Level"])
    view = definitions.raw_crash.public_view({"BuildFlavor": "debug", "Game.Level": "3", "Other": "x"})
    assert view.document == {"BuildFlavor": "debug", "Game.Level": "3"}
    assert definitions.raw_crash.field("BuildFlavor").origin == "operator"
    assert not DEFINITIONS.raw_crash.is_public("BuildFlavor")  # never by default


@pytest.mark.parametrize("names, message", [
    (["URL"], "URL is protected by Socorro's raw crash schema"),
    (["metadata"], "metadata is protected by Socorro's raw crash schema"),
    (["guid"], "guid is protected by crashflow.fields"),
    (["has space"], "is not an annotation name"),
    ([""], "is not an annotation name"),
])
def test_public_annotations_are_checked_at_start_up(names, message):
    with pytest.raises(ValueError, match=message):
        field_definitions(public_annotations=names)
    with pytest.raises(pydantic.ValidationError, match=message):
        Settings(public_annotations=names)


def test_public_annotations_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("CRASHFLOW_PUBLIC_ANNOTATIONS", '["BuildFlavor"]')
    assert Settings().public_annotations == ["BuildFlavor"]
    monkeypatch.setenv("CRASHFLOW_PUBLIC_ANNOTATIONS", '["Comments"]')
    with pytest.raises(pydantic.ValidationError, match="Comments is protected"):
        Settings()


def test_protected_fields_protect_public_fields_too():
    definitions = field_definitions(protected_fields=["processed_crash.app_notes", "raw_crash.Notes",
                                                      "processed_crash.json_dump.modules.cert_subject"])
    assert not definitions.processed_crash.is_public("app_notes")
    assert not definitions.search_fields["app_notes"].public
    assert not definitions.raw_crash.is_public("Notes")
    view = definitions.processed_crash.public_view(
        {"app_notes": "n", "json_dump": {"modules": [{"filename": "a", "cert_subject": "Alice"}]}})
    assert view.document == {"json_dump": {"modules": [{"filename": "a"}]}}
    assert view.withheld.fields == {"app_notes", "json_dump.modules.cert_subject"}
    assert DEFINITIONS.processed_crash.is_public("app_notes")  # the defaults are untouched


@pytest.mark.parametrize("paths, message", [
    (["app_notes"], "must be processed_crash.<field> or raw_crash.<annotation>"),
    (["processed_crash.no_such_field"], "is not a field the definitions list"),
    (["raw_crash.metadata.user_agent"], "names a pattern's field"),
])
def test_protected_fields_are_checked_at_start_up(paths, message):
    with pytest.raises(ValueError, match=message):
        field_definitions(protected_fields=paths)
    with pytest.raises(pydantic.ValidationError, match=message):
        Settings(protected_fields=paths)


# --- The schemas as package data -------------------------------------------------------------

def test_schemas_are_package_data_with_their_licence():
    package = resources.files("crashflow.schemas")
    names = {item.name for item in package.iterdir() if not item.name.startswith("__")}
    assert {f"{name}.schema.yaml" for name in SCHEMA_NAMES} | {"LICENSE.socorro", "README.md"} <= names
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["crashflow"]
    for name in names - {"__pycache__"}:
        assert any(fnmatch.fnmatch(f"schemas/{name}", pattern) for pattern in patterns), name
    # Unchanged copies of the reference beside the repo (where there is one).
    for reference in (REPO.parent / "shared", REPO.parent.parent / "shared"):
        for name in SCHEMA_NAMES:
            original = reference / "reference" / "socorro-schemas" / f"{name}.schema.yaml"
            if original.exists():
                assert package.joinpath(f"{name}.schema.yaml").read_text() == original.read_text()


def test_load_schema_gives_each_caller_its_own_copy():
    first = load_schema("raw_crash")
    first["properties"].clear()
    assert load_schema("raw_crash")["properties"]
    with pytest.raises(ValueError, match="no schema"):
        load_schema("nope")
