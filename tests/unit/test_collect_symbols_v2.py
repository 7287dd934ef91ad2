"""sym-upload-v2's wire details: the answers the tool's regular expressions read, and the
complete call's body, which is not strict JSON."""

import re

import pytest

from crashflow.collector.symbols_upload import SymbolUploadRefused
from crashflow.collector.symbols_v2 import SymbolId, answer, parse_complete_body

# The expressions of Breakpad's src/common/linux/symbol_collector_client.cc.
TOOL_EXPRESSIONS = {
    "status": r'"status": "([^"]+)"',
    "uploadUrl": r'"uploadUrl": "([^"]+)"',
    "uploadKey": r'"uploadKey": "([^"]+)"',
    "result": r'"result": "([^"]+)"',
}


@pytest.mark.parametrize("fields", [
    {"status": "FOUND"},
    {"uploadUrl": "http://127.0.0.1:8001/symbols/v1/uploads/abc?key=t%2Bk", "uploadKey": "abc"},
    {"result": "DUPLICATE_DATA"},
])
def test_answers_match_the_tools_regular_expressions(fields):
    text = answer(**fields)
    for name, value in fields.items():
        assert re.search(TOOL_EXPRESSIONS[name], text).group(1) == value


def test_the_tools_complete_body():
    # Byte for byte what SymbolCollectorClient::CompleteUpload sends.
    body = b'{ symbol_id: {debug_file: "crashme", debug_id: "AA11BB22CC33DD44EE55FF6677889900A" }, symbol_upload_type: "BREAKPAD" }'
    assert parse_complete_body(body) == SymbolId("crashme", "AA11BB22CC33DD44EE55FF6677889900A", "BREAKPAD")


def test_the_protocol_documents_camel_case_and_strict_json():
    body = b'{symbol_id:{"debugFile":"file_name","debugId":"123123123123123123123123123"}}'
    assert parse_complete_body(body) == SymbolId("file_name", "123123123123123123123123123", "BREAKPAD")
    body = b'{"symbol_id": {"debug_file": "a.pdb", "debug_id": "0A"}, "symbol_upload_type": "elf"}'
    assert parse_complete_body(body) == SymbolId("a.pdb", "0A", "ELF")


def test_a_body_without_a_symbol_id_is_refused():
    with pytest.raises(SymbolUploadRefused, match="names no symbol_id"):
        parse_complete_body(b"{}")


def test_the_upload_flow_over_the_symbols_interface():
    """create, PUT, complete (OK, then DUPLICATE_DATA), checkStatus, and retention's list
    of abandoned uploads, on the in-memory stores; each complete records the upload, and
    the crashes that missed the module are queued for reprocessing; a complete whose
    recording failed can be sent again."""
    import datetime as dt

    from crashflow.collector.symbols_upload import SymbolStoreUnavailable, SymbolUploader
    from crashflow.collector.symbols_v2 import SymUploadV2, UploadNotFound
    from crashflow.crashids import create_crash_id
    from crashflow.settings import Settings
    from crashflow.stores.factory import Stores
    from crashflow.stores.memory import MemoryQueues, MemorySymbolFiles, MemorySymbolUploads

    now = [dt.datetime(2026, 11, 26, tzinfo=dt.timezone.utc)]
    symbols, uploads, queues = MemorySymbolFiles(clock=lambda: now[0]), MemorySymbolUploads(lambda: now[0]), MemoryQueues()
    crash_id = create_crash_id(now[0])
    uploads.add_report({"uuid": crash_id, "date_processed": now[0], "completed_datetime": now[0], "product": "P",
                        "missing_modules": {"crashme/0A11": {"debug_file": "crashme", "debug_id": "0A11",
                                                             "code_file": "crashme", "code_id": ""}}})
    stores = Stores(Settings(), "collector", symbols=symbols, symbol_uploads=uploads, queues=queues)
    v2 = SymUploadV2(SymbolUploader(Settings(), stores))
    sym = b"MODULE Linux x86_64 0A11 crashme\nFILE 0 a.c\n"
    body = b'{ symbol_id: {debug_file: "crashme", debug_id: "0A11" }, symbol_upload_type: "BREAKPAD" }'
    assert v2.check_status("crashme", "0A11") == "MISSING"
    for expected in ("OK", "DUPLICATE_DATA"):
        key = v2.create()
        assert v2.receive(key, [sym[:10], sym[10:]]) == len(sym)
        result, module = v2.complete(key, body)
        assert (result, module.key) == (expected, "crashme/0A11/crashme.sym")
        with pytest.raises(UploadNotFound):
            v2.complete(key, body)  # the staged file went
    assert symbols.get("crashme/0A11/crashme.sym") == sym and v2.check_status("crashme", "0A11") == "FOUND"
    assert uploads.recorded_since(0)[1] == ["crashme/0A11/crashme.sym"] * 2
    assert [body.count(crash_id) for body in queues.bodies("reprocessing")] == [1, 1]

    key = v2.create()
    v2.receive(key, [sym])
    uploads.fail = True
    with pytest.raises(SymbolStoreUnavailable, match="recording the upload failed"):
        v2.complete(key, body)
    uploads.fail = False
    assert v2.complete(key, body)[0] == "DUPLICATE_DATA" and len(uploads.records) == 3
    abandoned = v2.create()
    v2.receive(abandoned, [sym])
    now[0] += dt.timedelta(days=2)
    assert symbols.staged_before(now[0] - dt.timedelta(days=1)) == [f"_uploads/{abandoned}"]
