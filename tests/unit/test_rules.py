"""Each processing rule alone, on hand-made crashes (no services, no stackwalker)."""

import copy
import hashlib

import pytest

from crashflow.fields import field_definitions
from crashflow.processor import rules
from crashflow.processor.annotations import typed_annotations
from crashflow.processor.pipeline import CrashContext, Pipeline, Rule
from crashflow.processor.stackwalker import StackwalkResult

CRASH_ID = "de1bb258-cbbf-4589-a673-34f800160918"


def crash(raw=None, dumps=None, processed=None) -> CrashContext:
    context = CrashContext(CRASH_ID, dict(raw or {}), dict(dumps or {}), processed=dict(processed or {}))
    context.annotations, _ = typed_annotations(context.raw_crash)
    return context


def frame(module, function=None, file=None):
    return {"module": module, "function": function, "file": file, "frame": 0}


JSON_DUMP = {
    "status": "OK",
    "crash_info": {"type": "SIGSEGV /SEGV_MAPERR", "address": "0x0", "crashing_thread": 1},
    "system_info": {"os": "Linux", "os_ver": "5.4", "cpu_arch": "amd64", "cpu_info": "family 6", "cpu_count": 8},
    "thread_count": 2,
    "modules": [
        {"filename": "app", "debug_file": "app", "debug_id": "AAA0", "missing_symbols": False},
        {"filename": "libc.so.6", "debug_file": "libc.so.6", "debug_id": "BBB0", "missing_symbols": True},
        {"filename": "libz.so", "debug_file": "libz.so", "debug_id": "CCC0", "missing_symbols": True,
         "version": "2.1/x", "code_id": "c0de"},
    ],
    "threads": [
        {"frames": [frame("libz.so")]},
        {"frames": [frame("libc.so.6"), frame("app", "Crash", "src/crash.cc"), frame("libc.so.6"), frame(None)]},
    ],
}


class Exploding(Rule):
    def action(self, crash):
        raise RuntimeError("boom")


class Marking(Rule):
    def action(self, crash):
        crash.processed["marked"] = True


def test_a_failing_rule_adds_a_note_and_the_pipeline_goes_on():
    result = Pipeline([Exploding(), Marking()]).run(crash())
    assert result.processed["marked"] is True
    # The notes are public: the error's message (which may quote a value) stays in the log.
    assert result.notes == ["Exploding failed: RuntimeError"]


def test_clean_annotations_drops_nul_bytes_none_values_and_reserved_keys():
    context = crash({"Pro\0duct": "A\0pp", "Empty": None, "signature": "forged", "uuid": CRASH_ID, "Ok": "1"})
    rules.CleanAnnotationsRule().action(context)
    assert context.raw_crash == {"Product": "App", "uuid": CRASH_ID, "Ok": "1"}
    assert len(context.notes) == 3


def test_notes_name_only_public_annotations():
    """processor_notes is public: an unlisted annotation's name (maybe a user's address)
    is not repeated there, a public one's is."""
    context = crash({"alice@example.com": None, "Secret\0Token": "x\0", "Vendor": None, "Hang": "a\0b"})
    rules.CleanAnnotationsRule().action(context)
    notes = "; ".join(context.notes)
    assert "alice" not in notes and "Secret" not in notes
    assert "'Vendor' has no value" in notes and "'Hang' had NUL bytes" in notes
    assert notes.count("(an unlisted annotation)") == 2
    # An installation's public annotations are named.
    own = field_definitions(public_annotations=["SecretToken"]).raw_crash
    context = crash({"Secret\0Token": "x\0"})
    rules.CleanAnnotationsRule(own).action(context)
    assert context.notes == ["annotation 'SecretToken' had NUL bytes; removed"]


def test_copy_annotations_types_known_ones_and_notes_bad_values():
    context = crash({
        "ProductName": "App", "Version": "52.0.1", "BuildID": "20170101", "InstallTime": "1500000000",
        "OOMAllocationSize": "lots", "Comments": "it broke", "MyOwnAnnotation": "kept",
    })
    rules.CopyAnnotationsRule().action(context)
    processed = context.processed
    assert processed["product"] == "App" and processed["version"] == "52.0.1" and processed["build"] == "20170101"
    assert processed["major_version"] == 52
    assert processed["install_time"] == 1500000000
    assert processed["user_comments"] == "it broke"
    assert "oom_allocation_size" not in processed
    assert context.notes == ["annotation OOMAllocationSize: not a valid int: 'lots'"]  # public: quoted
    assert context.annotations.model_extra == {"MyOwnAnnotation": "kept"}
    assert context.raw_crash["MyOwnAnnotation"] == "kept"


def test_notes_quote_no_protected_value():
    own = field_definitions(protected_fields=["raw_crash.OOMAllocationSize"]).raw_crash
    context = crash({"OOMAllocationSize": "alice@example.com"})
    rules.CopyAnnotationsRule(own).action(context)
    assert context.notes == ["annotation OOMAllocationSize: not a valid int: (value protected)"]


@pytest.mark.parametrize("reason, public", [
    ("MOZ_CRASH(Shutdown too long)", "MOZ_CRASH(Shutdown too long)"),
    ("MOZ_RELEASE_ASSERT(aIndex < Length()) (invalid index)", "MOZ_RELEASE_ASSERT(aIndex < Length()) (invalid index)"),
    ("called `Result::unwrap()` on an `Err` value: https://alice.example/private", "sanitized--see moz_crash_reason_raw"),
    ("Failed to load module \"jar:file:///home/alice/x\"", "sanitized--see moz_crash_reason_raw"),
])
def test_moz_crash_reason_is_public_only_when_a_constant(reason, public):
    context = crash({"ProductName": "App", "MozCrashReason": reason})
    rules.CopyAnnotationsRule().action(context)
    rules.MozCrashReasonRule().action(context)
    assert context.processed["moz_crash_reason_raw"] == reason
    assert context.processed["moz_crash_reason"] == public


def test_copy_annotations_without_a_version():
    context = crash({"ProductName": "App"})
    rules.CopyAnnotationsRule().action(context)
    assert context.processed["version"] == "" and context.processed["major_version"] == 0


def test_identifiers():
    context = crash()
    rules.IdentifierRule().action(context)
    assert context.processed["uuid"] == context.processed["crash_id"] == CRASH_ID


def test_dates_and_durations():
    context = crash({
        "submitted_timestamp": "2026-11-26T08:00:00+00:00",
        "CrashTime": "1764144000", "StartupTime": "1764143900", "InstallTime": "1764000000",
        "SecondsSinceLastCrash": "3600",
    })
    rules.DatesRule().action(context)
    processed = context.processed
    assert processed["date_processed"] == "2026-11-26T08:00:00+00:00"
    assert processed["client_crash_date"] == "2025-11-26T08:00:00+00:00"
    assert processed["uptime"] == 100
    assert processed["install_age"] == 144000
    assert processed["last_crash"] == 3600


def test_without_a_submit_time_the_crash_id_gives_the_day():
    context = crash({})
    rules.DatesRule().action(context)
    assert context.processed["date_processed"] == "2016-09-18T00:00:00+00:00"


def test_durations_count_from_the_submit_time_without_crash_time():
    context = crash({"submitted_timestamp": "2026-11-26T08:00:00+00:00", "StartupTime": str(1795680000 - 60)})
    rules.DatesRule().action(context)
    assert context.processed["uptime"] == 60
    assert "client_crash_date" not in context.processed


@pytest.mark.parametrize(
    "raw, process_type, report_type",
    [
        ({}, "parent", "crash"),
        ({"ProcessType": "content"}, "content", "crash"),
        ({"process_type": "renderer"}, "renderer", "crash"),
        ({"HangID": "abc"}, "parent", "hang"),
        ({"Hang": "1"}, "parent", "hang"),
        ({"Hang": "0"}, "parent", "crash"),
    ],
)
def test_process_and_report_type(raw, process_type, report_type):
    context = crash(raw)
    rules.ProcessTypeRule().action(context)
    assert (context.processed["process_type"], context.processed["report_type"]) == (process_type, report_type)


def test_dump_checksum():
    context = crash(dumps={"upload_file_minidump": b"MDMP"})
    rules.DumpChecksumRule().action(context)
    assert context.processed["minidump_sha256_hash"] == hashlib.sha256(b"MDMP").hexdigest()


class FakeStackwalker:
    """Stands in for the minidump-stackwalk binary (tested for real in integration tests)."""

    version = "minidump-stackwalk 0.0.0"

    def __init__(self):
        self.walked = []

    def walk(self, dump, raw_crash=None, fresh_symbols=False):
        self.walked.append((dump, raw_crash))
        if dump == b"bad":
            return StackwalkResult({"status": "ERROR_MINIDUMP_HEADER_MISMATCH"}, "ERROR_MINIDUMP_HEADER_MISMATCH", 0, "")
        return StackwalkResult({"status": "OK", "n": len(dump), "mac_boot_args": None}, "OK", 0, "warning: x\n")


def test_stackwalk_runs_on_every_minidump_and_passes_the_raw_crash():
    walker = FakeStackwalker()
    context = crash({"ProductName": "App"}, dumps={
        "upload_file_minidump": b"main", "upload_file_minidump_content": b"bad", "memory_report": b"x",
    })
    rules.StackwalkRule(walker).action(context)
    processed = context.processed
    assert [dump for dump, _ in walker.walked] == [b"main", b"bad"]
    assert walker.walked[0][1] == {"ProductName": "App"}
    assert processed["json_dump"] == {"status": "OK", "n": 4}
    assert processed["success"] is True and processed["mdsw_status_string"] == "OK"
    assert processed["mdsw_stderr"] == "warning: x\n"
    assert processed["additional_minidumps"] == ["upload_file_minidump_content"]
    assert processed["upload_file_minidump_content"]["mdsw_status_string"] == "ERROR_MINIDUMP_HEADER_MISMATCH"
    assert context.notes == ["minidump-stackwalk on upload_file_minidump_content: ERROR_MINIDUMP_HEADER_MISMATCH"]


def test_stackwalk_without_a_dump():
    context = crash()
    rules.StackwalkRule(FakeStackwalker()).action(context)
    assert context.processed["success"] is False and context.processed["mdsw_status_string"] == "NoMinidump"


def test_huge_stacks_are_truncated():
    frames = [frame(f"m{i}") for i in range(1000)]
    context = crash(processed={"json_dump": {"threads": [{"frames": frames}], "crashing_thread": {"frames": frames}}})
    rules.TruncateStacksRule(max_frames=10).action(context)
    thread = context.processed["json_dump"]["threads"][0]
    assert [f["module"] for f in thread["frames"]] == ["m0", "m1", "m2", "m3", "m4", "m995", "m996", "m997", "m998", "m999"]
    assert thread["truncated"] is True
    assert len(context.processed["json_dump"]["crashing_thread"]["frames"]) == 10


def test_crashing_thread_rule():
    context = crash(processed={"json_dump": JSON_DUMP})
    rules.CrashingThreadRule().action(context)
    processed = context.processed
    assert (processed["crashing_thread"], processed["reason"], processed["address"]) == (1, "SIGSEGV /SEGV_MAPERR", "0x0")
    assert processed["thread_count"] == 2


def test_system_info_from_the_dump():
    context = crash({"platform": "win32"}, processed={"json_dump": JSON_DUMP})
    rules.SystemInfoRule().action(context)
    processed = context.processed
    assert (processed["os_name"], processed["os_version"], processed["cpu_arch"]) == ("Linux", "5.4", "amd64")
    assert processed["cpu_count"] == 8 and processed["cpu_info"] == "family 6"


def test_system_info_falls_back_to_annotations():
    context = crash({"platform": "darwin", "cpu_arch": "arm64"})
    rules.SystemInfoRule().action(context)
    assert (context.processed["os_name"], context.processed["cpu_arch"]) == ("Mac OS X", "arm64")
    assert context.notes == ["OS and CPU from annotations: the dump has no system info"]


def test_modules_in_stack_missing_symbols_and_topmost_filenames_as_socorro_writes_them():
    context = crash(processed={"json_dump": JSON_DUMP})
    rules.ModulesRule().action(context)
    processed = context.processed
    assert processed["modules_in_stack"] == "app/AAA0;libc.so.6/BBB0"
    assert processed["missing_symbols"] == "libc.so.6/None/BBB0;libz.so/2.1\\/x/CCC0/c0de"
    assert processed["topmost_filenames"] == "src/crash.cc"


def test_topmost_filename_looks_at_inlined_frames_first():
    dump = copy.deepcopy(JSON_DUMP)
    dump["threads"][1]["frames"][0]["inlines"] = [{"function": "inlined", "file": "src/inline.h"}]
    context = crash(processed={"json_dump": dump})
    rules.ModulesRule().action(context)
    assert context.processed["topmost_filenames"] == "src/inline.h"


def test_module_fields_with_nothing_to_say_are_left_out():
    dump = {**JSON_DUMP, "modules": [{**module, "missing_symbols": False} for module in JSON_DUMP["modules"]],
            "threads": [{"frames": []}, {"frames": [frame(None)]}]}
    context = crash(processed={"json_dump": dump})
    rules.ModulesRule().action(context)
    assert not {"modules_in_stack", "missing_symbols", "topmost_filenames"} & set(context.processed)


def test_mac_boot_args_are_copied_when_the_dump_has_them():
    context = crash(processed={"json_dump": {**JSON_DUMP, "mac_boot_args": " -v keepsyms=1 "}})
    rules.MacBootArgsRule().action(context)
    assert (context.processed["mac_boot_args"], context.processed["has_mac_boot_args"]) == ("-v keepsyms=1", True)
    context = crash(processed={"json_dump": {**JSON_DUMP, "mac_boot_args": None}})
    rules.MacBootArgsRule().action(context)
    assert "mac_boot_args" not in context.processed


def test_cpu_count_is_left_out_when_the_dump_does_not_say():
    context = crash(processed={"json_dump": {**JSON_DUMP, "system_info": {"os": "Linux", "cpu_count": None}}})
    rules.SystemInfoRule().action(context)
    assert "cpu_count" not in context.processed


def test_addons():
    context = crash({"Add-ons": "addon%40example.com:1.2,{972ce4c6-7e08}:3.0,nover", "EMCheckCompatibility": "true"})
    rules.AddonsRule().action(context)
    assert context.processed["addons"] == ["addon@example.com:1.2", "{972ce4c6-7e08}:3.0", "nover:"]
    assert context.processed["addons_checked"] is True


def test_signature_from_siggen():
    context = crash(processed={"json_dump": JSON_DUMP})
    rules.CrashingThreadRule().action(context)
    rules.SignatureRule().action(context)
    assert context.processed["signature"] == "libc.so.6 | Crash"
    assert context.processed["proto_signature"] == "libc.so.6 | Crash | libc.so.6 | "


def test_signature_when_stackwalking_failed():
    context = crash(processed={"mdsw_status_string": "StackwalkerFailed"})
    rules.SignatureRule().action(context)
    assert context.processed["signature"] == rules.FAILED_SIGNATURE


def test_finish_joins_the_notes():
    context = crash()
    context.notes.extend(["one", "two"])
    rules.FinishRule().action(context)
    assert context.processed["processor_notes"] == "one; two"
    assert context.processed["completed_datetime"]


def test_stackwalker_output_rules_are_skipped_without_output():
    result = Pipeline([rules.TruncateStacksRule(), rules.CrashingThreadRule(), rules.ModulesRule()]).run(crash())
    assert result.processed == {} and result.notes == []


def test_corrupt_symbol_files_are_named_in_a_note():
    modules = [{"filename": "test_app.exe", "debug_file": "test_app.pdb", "debug_id": "5A98", "corrupt_symbols": True},
               {"filename": "ok.dll", "debug_file": "ok.pdb", "debug_id": "0B", "corrupt_symbols": False}]
    context = crash(processed={"json_dump": {"modules": modules}, "additional_minidumps": ["upload_file_minidump_x"],
                               "upload_file_minidump_x": {"json_dump": {"modules": modules[:1]}}})
    rules.CorruptSymbolsRule().action(context)
    assert context.notes == [
        "corrupt symbol file for module test_app.exe (test_app.pdb 5A98): test_app.pdb/5A98/test_app.sym",
        "corrupt symbol file for module test_app.exe (test_app.pdb 5A98): test_app.pdb/5A98/test_app.sym"
        " (in upload_file_minidump_x)",
    ]
