"""Late symbols above the stores (in-memory stores): what a report row keeps, the upload
watcher, what an upload sets off, and the processor forgetting what it knew of a file."""

import datetime as dt

import pytest

from crashflow.api.symbols import symbol_server_key
from crashflow.crashids import create_crash_id
from crashflow.late_symbols import ReprocessingNotQueued, SymbolsArrived, UploadWatcher, missing_modules
from crashflow.messages import ProcessingRequest
from crashflow.processor.symbols import MissingSymbols, SymbolFetcher
from crashflow.query_app import endpoint_label
from crashflow.settings import Settings
from crashflow.stores.layout import module_id
from crashflow.stores.memory import MemoryQueues, MemorySymbolFiles, MemorySymbolUploads

SYMBOL_ROUTE = "/symbols/<debug_file>/<debug_id>/<name>"

NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.timezone.utc)


def test_missing_modules_keyed_by_module_id():
    processed = {"json_dump": {"modules": [
        {"filename": "xul.dll", "debug_file": "c:\\builds\\xul.pdb", "debug_id": "AA01", "code_id": "5f00",
         "missing_symbols": True},
        {"filename": "app", "debug_file": "app", "debug_id": "BB02", "missing_symbols": False},
        {"filename": "evil", "debug_file": "..", "debug_id": "CC03", "missing_symbols": True},
        {"filename": "libc.so.6", "debug_file": "libc.so.6", "debug_id": "DD04", "code_file": "/lib/libc.so.6",
         "missing_symbols": True},
    ]}}
    assert missing_modules(processed) == {
        "xul.pdb/AA01": {"debug_file": "xul.pdb", "debug_id": "AA01", "code_file": "xul.dll", "code_id": "5f00"},
        "libc.so.6/DD04": {"debug_file": "libc.so.6", "debug_id": "DD04", "code_file": "/lib/libc.so.6",
                           "code_id": ""},
    }
    assert missing_modules({"json_dump": {}}) is None and missing_modules({}) is None
    assert module_id("..", "AA") is None and module_id("c:\\x\\a.pdb", "0A") == "a.pdb/0A"


def test_the_watcher_forgets_what_was_uploaded_since_it_last_looked():
    clock = [100.0]
    uploads, forgotten = MemorySymbolUploads(clock=lambda: NOW), []
    uploads.record(["old/01/old.sym"])
    watcher = UploadWatcher(uploads, forgotten.append, interval=2, clock=lambda: clock[0])
    assert watcher.poll() == 0  # starts from the latest record: nothing before it matters
    uploads.record(["a/0A/a.sym", "b/0B/b.sym"])
    clock[0] += 1
    assert watcher.poll() == 0 and forgotten == []  # not due yet: one query per interval
    clock[0] += 1.5
    assert watcher.poll() == 2 and forgotten == ["a/0A/a.sym", "b/0B/b.sym"]
    uploads.fail = True
    clock[0] += 3
    assert watcher.poll() == 0  # a store failure never stops processing ...
    uploads.fail = False
    uploads.record(["c/0C/c.sym"])
    clock[0] += 3
    assert watcher.poll() == 1 and forgotten[-1] == "c/0C/c.sym"  # ... nor loses a record


def report(crash_id: str, when: dt.datetime, modules: list[str], product: str = "App") -> dict:
    return {"uuid": crash_id, "date_processed": when, "completed_datetime": when, "product": product,
            "missing_modules": {module: dict(zip(("debug_file", "debug_id"), module.split("/")),
                                             code_file="", code_id="") for module in modules} or None}


class RefusingQueues(MemoryQueues):
    def publish_batch(self, kind, bodies):
        super().publish_batch(kind, bodies[1:])
        return bodies[:1]


def test_an_upload_is_recorded_and_queues_the_recent_crashes_that_missed_it():
    uploads, queues = MemorySymbolUploads(clock=lambda: NOW), MemoryQueues()
    crash_ids = [create_crash_id(NOW - dt.timedelta(hours=n)) for n in range(25)]
    for n, crash_id in enumerate(crash_ids):
        uploads.add_report(report(crash_id, NOW - dt.timedelta(hours=n), ["a.pdb/0A"] if n % 2 else ["b.so/0B"]))
    old = create_crash_id(NOW - dt.timedelta(days=8))
    uploads.add_report(report(old, NOW - dt.timedelta(days=8), ["a.pdb/0A"]))
    arrived = SymbolsArrived(Settings(symbols_reprocess_days=7, symbols_reprocess_max=11), uploads, queues)

    queued = arrived(["a.pdb/0A/a.sym", "c.so/0C/c.so.sym"])
    assert uploads.recorded_since(0) == (2, ["a.pdb/0A/a.sym", "c.so/0C/c.so.sym"])
    assert queued == crash_ids[1:25:2][:11]  # newest first, bounded, none older than 7 days
    requests = [ProcessingRequest.from_message(body, "reprocessing") for body in queues.bodies("reprocessing")]
    assert [request.crash_id for request in requests] == queued
    assert all(request.fresh_symbols and request.requested_by == "symbol_upload" for request in requests)

    none_back = SymbolsArrived(Settings(symbols_reprocess_days=0), uploads, MemoryQueues())
    assert none_back(["a.pdb/0A/a.sym"]) == [] and uploads.recorded_since(2)[1] == ["a.pdb/0A/a.sym"]
    with pytest.raises(ReprocessingNotQueued, match="refused 2 of 13"):
        SymbolsArrived(Settings(), uploads, RefusingQueues())(["b.so/0B/b.so.sym"])


def test_the_processor_forgets_a_missing_entry_and_its_copy_of_an_uploaded_file(tmp_path):
    symbols, uploads = MemorySymbolFiles(), MemorySymbolUploads(clock=lambda: NOW)
    missing = MissingSymbols(ttl=600)
    fetcher = SymbolFetcher(tmp_path / "cache", symbols, missing, uploads=uploads, poll_seconds=0)
    key, other = "a.pdb/0A/a.sym", "b.pdb/0B/b.sym"
    fetcher.catch_up()
    assert fetcher.fetch([key, other]) == 0 and key in missing  # the bucket has neither yet
    symbols.put(other, b"MODULE windows x86 0B b.pdb\n")
    assert fetcher.fetch([other], fresh=True) == 1
    symbols.put(key, b"MODULE windows x86 0A a.pdb\n")
    symbols.put(other, b"MODULE windows x86 0B b.pdb\nFILE 0 fixed.c\n")
    assert fetcher.fetch([key]) == 0  # still taken for missing: nobody said it was uploaded
    uploads.record([key, other])
    assert fetcher.catch_up() == 2
    assert key not in missing and not (tmp_path / "cache" / other).exists()
    assert fetcher.fetch([key, other]) == 2
    assert (tmp_path / "cache" / other).read_bytes().endswith(b"fixed.c\n")


def test_a_record_naming_no_symbol_file_deletes_nothing(tmp_path):
    outside = tmp_path / "outside.sym"
    outside.write_text("keep")
    fetcher = SymbolFetcher(tmp_path / "cache", MemorySymbolFiles(), MissingSymbols(ttl=600))
    fetcher.forget("../outside.sym")
    fetcher.forget("x/../../outside.sym")
    assert outside.read_text() == "keep"


def test_symbol_server_paths():
    assert symbol_server_key("xul.pdb", "AA01", "xul.sym") == "xul.pdb/AA01/xul.sym"
    assert symbol_server_key("libxul.so", "AA01", "libxul.so.sym") == "libxul.so/AA01/libxul.so.sym"
    for parts in (("xul.pdb", "AA01", "xul.pdb"), ("..", "AA01", "x.sym"), ("xul.pdb", "AA-01", "xul.sym"),
                  ("x\x01", "AA01", "x\x01.sym"), ("xul.pdb", "..", "xul.sym"), ("xul.pdb", "AA01", "..")):
        assert symbol_server_key(*parts) is None, parts


@pytest.mark.parametrize("path, label", [
    ("/symbols/xul.pdb/AA01/xul.sym", SYMBOL_ROUTE),
    ("/symbols/../AA01/x.sym", SYMBOL_ROUTE),  # routed, then refused by symbol_server_key
    ("/symbols/xul.pdb/AA01", None),  # not three parts: no route
    ("/symbols/a/b/c/d", None),
    ("/symbols/xul.pdb/AA01/../AA01/xul.sym", None),
    ("/api/MissingSymbols/", "/api/MissingSymbols/"),
])
def test_symbol_server_routes(path, label):
    assert endpoint_label(path) == label
