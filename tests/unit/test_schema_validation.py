"""The validator of Socorro's schemas catches what a tool reading Socorro's types would trip on."""

from schema_validation import schema_errors


def test_socorro_types_are_enforced():
    good = {"uuid": "x", "topmost_filenames": "a.c", "modules_in_stack": "a/0A", "cpu_count": 2,
            "json_dump": {"crash_info": {"address": "0x0"}, "threads": [{"frames": [{"frame": 0}]}]},
            "our_own_field": [1, 2]}
    assert schema_errors("processed_crash", good) == []
    bad = {**good, "topmost_filenames": ["a.c"], "modules_in_stack": ["a/0A"], "cpu_count": None,
           "json_dump": {**good["json_dump"], "mac_boot_args": None}}
    errors = schema_errors("processed_crash", bad)
    assert [line.split(":")[0] for line in errors] == [
        "cpu_count", "json_dump.mac_boot_args", "modules_in_stack", "topmost_filenames"]


def test_raw_crash_pattern_properties_apply():
    assert schema_errors("raw_crash", {"ProductName": "Firefox", "metadata": {"payload": "json"}}) == []
    assert schema_errors("raw_crash", {"ProductName": 3})


def test_crashflows_field_list_protects_every_field_the_schemas_protect():
    from crashflow.fields import default_definitions
    from schema_validation import protected_paths

    definitions = default_definitions()
    for kind in ("processed_crash", "raw_crash"):
        paths = protected_paths(kind)
        assert len(paths) >= 10, kind  # the walk found the schema's protected fields
        exposed = [path for path in paths if getattr(definitions, kind).is_public(path)]
        assert exposed == [], (kind, exposed)
