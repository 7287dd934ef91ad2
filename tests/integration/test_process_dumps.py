"""Every test minidump through the real minidump-stackwalk, with and without its symbols
(fetched from the symbols bucket into the processor's symbol cache), stored in the real
HBase and Postgres."""

import copy
import io
import json

import pytest
import requests

from conftest import DATA
from crashflow.processor.rules import missing_module
from crashflow.processor.service import Processor
from crashflow.stores.factory import Stores
from crashflow.stores.hbase import CrashTable
from crashflow.stores.postgres import Database
from crashflow.stores.s3 import CrashStorage
from crashflow.tokens import TokenStore
from process_support import delete_symbols, dump_crash, processed_records, report_rows, upload_symbols
from schema_validation import schema_errors

pytestmark = pytest.mark.integration

# dump -> (signature with symbols, signature without, os_name, cpu_arch, reason, top frame
# function with symbols); None where the dump is corrupt.
DUMPS = {
    "test.dmp": (
        "(anonymous namespace)::CrashFunction", "test_app.exe", "Windows NT", "x86",
        "EXCEPTION_ACCESS_VIOLATION_WRITE", "`anonymous namespace'::CrashFunction",
    ),
    "breakpad-linux_null_read_av.dmp": ("crash", "null_read_av", "Linux", "amd64", "SIGSEGV", "crash()"),
    "breakpad-linux_raise_sigabrt.dmp": (
        "libpthread-2.19.so", "libpthread-2.19.so", "Linux", "amd64", "SIGABRT", None,
    ),
    "breakpad-null_read_av.dmp": (
        "crashme.exe", "crashme.exe", "Windows NT", "x86", "EXCEPTION_ACCESS_VIOLATION_READ", None,
    ),
    "invalid-parameter.dmp": (
        "crashtest.exe", "crashtest.exe", "Windows NT", "amd64", "STATUS_INVALID_PARAMETER", None,
    ),
    "linux-mini.dmp": ("crash", "crash", "Linux", "amd64", "SIGSEGV", None),
    "pipeline-inlines-macos-segv.dmp": (
        "sadness_generator::raise_segfault", "crash-client", "Mac OS X", "amd64",
        "EXC_BAD_ACCESS / KERN_INVALID_ADDRESS", "sadness_generator::raise_segfault",
    ),
    "simple-crashpad.dmp": (
        "libsystem_kernel.dylib", "libsystem_kernel.dylib", "Mac OS X", "amd64", "unknown 0x00000000 / 0x00000000",
        None,
    ),
}
CORRUPT = {"invalid-range.dmp": "MissingThreadList", "invalid-record-count.dmp": "MissingThreadList"}
# The stackwalker's own expected output (rust-minidump's snapshots): dump, with symbols?, snapshot.
SNAPSHOTS = [
    ("test.dmp", True, "json-pretty-symbols.snap"),
    ("linux-mini.dmp", False, "linux_json_pretty.snap"),
    ("pipeline-inlines-macos-segv.dmp", True, "macos_inlines_json_pretty.snap"),
]


def snapshot(name: str) -> dict:
    text = (DATA / "stackwalk-expected" / name).read_text()
    return json.loads(text.split("---", 2)[2])


def process_all(settings, processor) -> dict[str, dict]:
    """dump name -> processed crash, for every test dump; also checks what was stored."""
    crash_ids = {name: dump_crash(settings, name) for name in [*DUMPS, *CORRUPT]}
    results = {name: processor.process(crash_id).processed for name, crash_id in crash_ids.items()}
    stored = processed_records(settings, list(crash_ids.values()))
    rows = report_rows(settings, list(crash_ids.values()))
    for name, crash_id in crash_ids.items():
        assert stored[crash_id]["signature"] == results[name]["signature"], name
        assert rows[crash_id] == 1, name
    return {name: stored[crash_id] for name, crash_id in crash_ids.items()}


@pytest.fixture(scope="module")
def without_symbols(stack, tmp_path_factory):
    delete_symbols(stack)
    settings = stack.model_copy(update={"symbols_cache_dir": tmp_path_factory.mktemp("no-symbols")})
    return process_all(settings, Processor(settings))


@pytest.fixture(scope="module")
def with_symbols(stack, tmp_path_factory, without_symbols):
    upload_symbols(stack)
    try:
        settings = stack.model_copy(update={"symbols_cache_dir": tmp_path_factory.mktemp("symbols")})
        yield process_all(settings, Processor(settings))
    finally:
        delete_symbols(stack)


@pytest.mark.parametrize("name", DUMPS)
def test_dump_without_symbols(without_symbols, name):
    _, signature, os_name, cpu_arch, reason, _ = DUMPS[name]
    processed = without_symbols[name]
    assert processed["signature"] == signature
    assert processed["mdsw_status_string"] == "OK" and processed["success"] is True
    assert (processed["os_name"], processed["cpu_arch"], processed["reason"]) == (os_name, cpu_arch, reason)
    frames = processed["json_dump"]["threads"][processed["crashing_thread"]]["frames"]
    assert frames and all(frame.get("function") is None for frame in frames[:1])
    assert processed["json_dump"]["crashing_thread"]["frames"][0]["module"] == frames[0]["module"]
    assert processed["minidump_sha256_hash"] and processed["stackwalk_version"].startswith("minidump-stackwalk")
    assert processed["missing_symbols"]


@pytest.mark.parametrize("name", DUMPS)
def test_dump_with_symbols(with_symbols, name):
    signature, _, os_name, cpu_arch, reason, top_function = DUMPS[name]
    processed = with_symbols[name]
    assert processed["signature"] == signature
    assert (processed["os_name"], processed["cpu_arch"], processed["reason"]) == (os_name, cpu_arch, reason)
    frames = processed["json_dump"]["threads"][processed["crashing_thread"]]["frames"]
    assert frames[0].get("function") == top_function
    assert processed["modules_in_stack"]


@pytest.mark.parametrize("name", CORRUPT)
def test_corrupt_dump_gets_the_stackwalker_status(without_symbols, name):
    processed = without_symbols[name]
    assert processed["mdsw_status_string"] == CORRUPT[name]
    assert processed["success"] is False and processed["mdsw_return_code"] == 1
    assert processed["signature"] == "EMPTY: crash failed to process"
    assert CORRUPT[name] in processed["processor_notes"]
    assert "thread list stream was not found" in processed["mdsw_stderr"]


@pytest.mark.parametrize("name, symbols, snap", SNAPSHOTS)
def test_stored_stackwalker_output_matches_the_snapshot(without_symbols, with_symbols, name, symbols, snap):
    processed = (with_symbols if symbols else without_symbols)[name]
    json_dump, expected = processed["json_dump"], snapshot(snap)
    # What was "missing" differs: the snapshot had no symbol source at all when walked
    # without symbols (so nothing was), we always have the cache directory.
    json_dump = copy.deepcopy(json_dump)
    ours = [module.pop("missing_symbols") for module in json_dump["modules"]]
    for module in expected["modules"]:
        module.pop("missing_symbols")
    # The stackwalker's null for "no macOS boot arguments" is dropped (a string in Socorro's schema).
    assert expected.pop("mac_boot_args", None) is None and "mac_boot_args" not in json_dump
    assert json_dump == expected
    missing = sorted(missing_module(module) for module, gone in zip(json_dump["modules"], ours) if gone)
    assert missing == processed["missing_symbols"].split(";")


def test_modules_and_addons_for_correlations(stack, without_symbols):
    crash_ids = [without_symbols["test.dmp"]["uuid"], without_symbols["linux-mini.dmp"]["uuid"]]
    table = CrashTable(stack)
    found = {
        crash_id: {"modules": json.loads(modules), "addons": json.loads(addons)}
        for day in {crash_id[-6:] for crash_id in crash_ids}
        for crash_id, modules, addons in table.module_lists_submitted(day)
    }
    assert set(crash_ids) <= set(found)
    assert "test_app.exe" in found[crash_ids[0]]["modules"]
    assert found[crash_ids[0]]["addons"] == []


def test_report_row_columns(stack, without_symbols):
    from crashflow.stores import postgres

    crash_id = without_symbols["test.dmp"]["uuid"]
    connection = postgres.connect(stack)
    try:
        [row] = connection.run(
            "SELECT signature, os_name, cpu_arch, major_version, thread_count, modules_in_stack, success "
            "FROM reports WHERE uuid = :id", id=crash_id,
        )
    finally:
        connection.close()
    assert row[:5] == ["test_app.exe", "Windows NT", "x86", 1, 2]
    assert "test_app.exe/5A9832E5287241C1838ED98914E9B7FF1" in row[5].split(";") and row[6] is True


@pytest.fixture(scope="module")
def pii_token(stack):
    return TokenStore(Database(stack)).create(["view_pii"], note="schema validation")


@pytest.mark.parametrize("name", [*DUMPS, *CORRUPT])
def test_crashes_are_valid_against_socorros_schemas(stack, functions, without_symbols, with_symbols, pii_token, name):
    """What tools read (the stored processed crash, and the processed and raw crash the API
    serves with and without view_pii) has the types of Socorro's published schemas."""
    query = functions["query"].url
    for processed in (without_symbols[name], with_symbols[name]):
        crash_id = processed["uuid"]
        assert schema_errors("processed_crash", processed) == [], name
        assert schema_errors("raw_crash", CrashStorage(stack).load_raw_crash(crash_id)) == [], name
        for headers in ({}, {"Auth-Token": pii_token}):
            for endpoint, schema in (("ProcessedCrash", "processed_crash"), ("RawCrash", "raw_crash")):
                answer = requests.get(f"{query}/api/{endpoint}/", params={"crash_id": crash_id}, headers=headers,
                                      timeout=30)
                assert answer.status_code == 200, answer.text
                assert schema_errors(schema, answer.json()) == [], (name, endpoint, headers)


def test_a_reprocessed_crash_is_valid_against_socorros_schemas(stack, tmp_path):
    settings = stack.model_copy(update={"symbols_cache_dir": tmp_path})
    processor = Processor(settings)
    crash_id = dump_crash(settings, "test.dmp")
    processor.process(crash_id)
    processed = processor.process(crash_id, "regenerate_signature").processed
    processed = processor.process(crash_id, fresh_symbols=True).processed
    assert len(processed["processor_history"]) == 2
    assert schema_errors("processed_crash", processed) == []
    assert schema_errors("processed_crash", processed_records(settings, [crash_id])[crash_id]) == []


def test_a_corrupt_symbol_file_is_named_in_the_processor_notes(stack, tmp_path):
    key = "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym"
    good = (DATA / "symbols" / key).read_bytes()
    symbols = Stores.from_settings(stack, "cli").symbols
    symbols.save(key, io.BytesIO(good[:3000] + b"\nFUNC zz garbage\n\x00\x01 nonsense\n"))
    try:
        settings = stack.model_copy(update={"symbols_cache_dir": tmp_path})
        processed = Processor(settings).process(dump_crash(settings, "test.dmp")).processed
    finally:
        symbols.delete(key)
    assert (f"corrupt symbol file for module test_app.exe (test_app.pdb 5A9832E5287241C1838ED98914E9B7FF1): {key}"
            in processed["processor_notes"])
