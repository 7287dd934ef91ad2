"""Symbols that arrive late, on the real functions: a crash processed without its symbols
shows in the missing-symbols report; uploading them (Breakpad's sym_upload) makes the next
crash use them within seconds although the process instance had just found them missing,
queues the earlier crash for reprocessing by itself, and takes the module off the report.
A symbol file uploaded again (fixed) replaces the copy process had."""

from __future__ import annotations

import datetime as dt
import shutil
import time
import uuid

import pytest
import requests
from click.testing import CliRunner

import wire_clients
from conftest import DATA
from crashflow.cli import main as cli
from crashflow.crashids import create_crash_id
from crashflow.messages import ProcessingRequest
from crashflow.relay import Relay
from crashflow.reports import report_row
from crashflow.settings import get_settings
from crashflow.stores.factory import Stores
from crashflow.stores.interfaces import MissingSymbol
from crashflow.stores.memory import MemorySymbolUploads
from crashflow.tokens import TokenStore
from test_end_to_end import relay_until_processed, submit

pytestmark = pytest.mark.integration

SYMBOL_KEY = "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym"
MODULE = "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1"
WITH_SYMBOLS = "(anonymous namespace)::CrashFunction"
WITHOUT_SYMBOLS = "test_app.exe"
# What test.dmp's crash misses without its symbols: test_app's, and the system's kernel32.
TEST_APP_LINE = {"debug_file": "test_app.pdb", "debug_id": "5A9832E5287241C1838ED98914E9B7FF1",
                 "code_file": "test_app.exe", "code_id": "45d35f6c2d000"}
KERNEL32_LINE = {"debug_file": "kernel32.pdb", "debug_id": "BCE8785C57B44245A669896B6A19B9542",
                 "code_file": "kernel32.dll", "code_id": "44ab9a84f4000"}


@pytest.fixture
def stores(stack):
    return Stores.from_settings(stack, "cli")


@pytest.fixture
def no_symbols(stack, stores, functions_symbols_cache):
    """The test module's symbols in neither the bucket nor the process function's cache;
    afterwards, nothing left in the reprocessing queue by the uploads."""
    def clear():
        stores.symbols.delete(SYMBOL_KEY)
        shutil.rmtree(functions_symbols_cache / stack.symbols_bucket / "test_app.pdb", ignore_errors=True)

    clear()
    yield
    clear()
    take(stores.queues, "reprocessing")


def take(queues, kind: str) -> list[str]:
    found = []
    while messages := queues.receive(kind, max_messages=10):
        for message in messages:
            found.append(message.body)
            queues.delete(message)
    return found


def missing_report(query_url: str, day: str, product: str) -> list[dict]:
    answer = requests.get(f"{query_url}/api/MissingSymbols/", params={"date": day, "product": product}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["hits"]


def cli_in(namespace: str, monkeypatch, *arguments: str):
    monkeypatch.setenv("CRASHFLOW_NAMESPACE", namespace)
    get_settings.cache_clear()  # commands read the settings once per process
    try:
        return CliRunner().invoke(cli, list(arguments))
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_symbols_uploaded_late_are_used_at_once_and_fix_earlier_crashes(stack, stores, functions, no_symbols,
                                                                        monkeypatch):
    query, product = functions["query"].url, f"Late{uuid.uuid4().hex[:8]}"
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    early = submit(functions["collect"].url, product)
    assert relay_until_processed(stack, functions, query, early)["signature"] == WITHOUT_SYMBOLS

    assert missing_report(query, today, product) == [{**KERNEL32_LINE, "crash_count": 1},
                                                      {**TEST_APP_LINE, "crash_count": 1}]
    csv = cli_in(stack.namespace, monkeypatch, "symbols", "missing", "--date", today, "--product", product, "--csv")
    assert csv.exit_code == 0, (csv.output, csv.exception)
    assert csv.output.splitlines() == ["debug_file,debug_id,code_file,code_id,crash_count",
                                       "kernel32.pdb,BCE8785C57B44245A669896B6A19B9542,kernel32.dll,44ab9a84f4000,1",
                                       "test_app.pdb,5A9832E5287241C1838ED98914E9B7FF1,test_app.exe,45d35f6c2d000,1"]

    token = TokenStore(stores.reports).create(["upload_symbols"])
    ok, reply = wire_clients.sym_upload_v1(f"{functions['collect'].url}/symbols/upload?key={token}",
                                           DATA / "symbols" / SYMBOL_KEY)
    assert ok, reply
    # The upload queued the crash that missed the module, by itself, to be walked afresh.
    queued = [ProcessingRequest.from_message(body, "reprocessing") for body in take(stores.queues, "reprocessing")]
    [asked] = [request for request in queued if request.crash_id == early]
    assert asked.fresh_symbols and asked.requested_by == "symbol_upload"

    # A new crash of the module: process found it missing moments ago (and would not ask
    # the bucket again for 10 minutes), yet uses the upload within seconds.
    time.sleep(stack.symbols_upload_poll_seconds + 0.5)
    later = submit(functions["collect"].url, product)
    assert relay_until_processed(stack, functions, query, later)["signature"] == WITH_SYMBOLS

    stores.queues.publish("reprocessing", asked.to_message())  # put back what the test took
    relay = Relay(stack.model_copy(update={"process_url": functions["process"].url}))
    deadline = time.monotonic() + 60
    while stores.records.get_processed_crash(early)["signature"] != WITH_SYMBOLS:
        assert time.monotonic() < deadline, "the queued crash was not reprocessed"
        relay.drain_once(wait_seconds=1)
    # The module is off the report (the upload came after the crashes were processed); the
    # one nobody uploaded stays, with both crashes.
    assert missing_report(query, today, product) == [{**KERNEL32_LINE, "crash_count": 2}]


def test_a_symbol_file_uploaded_again_replaces_the_copy_process_had(stack, stores, functions, no_symbols, tmp_path):
    """A corrupt file gives a note naming it; the fixed file, uploaded with sym-upload-v2,
    is used by the next crash (process dropped its copy of the corrupt one)."""
    query, product = functions["query"].url, f"Fixed{uuid.uuid4().hex[:8]}"
    token = TokenStore(stores.reports).create(["upload_symbols"])
    good = DATA / "symbols" / SYMBOL_KEY
    corrupt = tmp_path / "test_app.sym"
    corrupt.write_bytes(good.read_bytes()[:3000] + b"\nFUNC zz garbage\n\x00\x01 nonsense\n")
    ok, reply = wire_clients.sym_upload_v1(f"{functions['collect'].url}/symbols/upload?key={token}", corrupt)
    assert ok, reply
    time.sleep(stack.symbols_upload_poll_seconds + 0.5)  # process may have found none moments ago
    first = submit(functions["collect"].url, product)
    notes = relay_until_processed(stack, functions, query, first)["processor_notes"]
    assert f"corrupt symbol file for module test_app.exe ({MODULE.replace('/', ' ')}): {SYMBOL_KEY}" in notes

    outcome = wire_clients.sym_upload_v2(f"{functions['collect'].url}/symbols", token, good, force=True)
    assert outcome.success and outcome.message == "Successfully sent the symbol file.", outcome
    time.sleep(stack.symbols_upload_poll_seconds + 0.5)
    second = submit(functions["collect"].url, product)
    processed = relay_until_processed(stack, functions, query, second)
    assert processed["signature"] == WITH_SYMBOLS and "corrupt symbol file" not in processed["processor_notes"]


def add_report(target, crash_id: str, when: dt.datetime, product: str, modules: list[str]) -> None:
    """A report row as the processor writes it (crashflow.reports.report_row), into Postgres
    or into the in-memory store."""
    json_dump = {"modules": [{"filename": f"{name}.dll", "debug_file": name, "debug_id": debug_id, "code_id": "c0de",
                              "missing_symbols": True} for name, debug_id in (module.split("/") for module in modules)]}
    row = report_row({"uuid": crash_id, "date_processed": when.isoformat(), "completed_datetime": when.isoformat(),
                      "product": product, "signature": "s", "json_dump": json_dump})
    if isinstance(target, MemorySymbolUploads):
        target.add_report(row)
    else:
        target.upsert_report(row)


@pytest.mark.parametrize("backend", ["postgres", "memory"])
def test_the_crashes_an_upload_queues_and_the_report_agree_in_both_stores(stack, stores, backend):
    """The same rows give the same answers from Postgres and from the in-memory store the
    unit tests use: recent crashes only, each once, newest first, bounded; the report per
    day and product, without what was uploaded after the crash."""
    uploads = stores.symbol_uploads if backend == "postgres" else MemorySymbolUploads()
    target = stores.reports if backend == "postgres" else uploads
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    product = f"Bounded{uuid.uuid4().hex[:6]}"
    a, b = f"a{uuid.uuid4().hex[:6]}.pdb/0A", f"b{uuid.uuid4().hex[:6]}.pdb/0B"
    crashes = {}
    for name, age, modules in (("old", 9, [a]), ("both", 1, [a, b]), ("newest", 0, [b]), ("mid", 2, [a]),
                               ("other", 0, [])):
        when = now - dt.timedelta(days=age, minutes=1)
        crashes[name] = create_crash_id(when)
        add_report(target, crashes[name], when, product, modules)
    assert uploads.crashes_missing([a, b], days=7, limit=100) == [crashes["newest"], crashes["both"], crashes["mid"]]
    assert uploads.crashes_missing([a, b], days=7, limit=2) == [crashes["newest"], crashes["both"]]
    assert uploads.crashes_missing([a], days=0, limit=100) == []
    assert uploads.crashes_missing([a], days=30, limit=100) == [crashes["both"], crashes["mid"], crashes["old"]]

    day = (now - dt.timedelta(days=1, minutes=1)).date()
    line_a, line_b = (MissingSymbol(*module.split("/"), f"{module.split('/')[0]}.dll", "c0de", 1) for module in (a, b))
    assert uploads.missing_symbols(day, product) == sorted([line_a, line_b], key=lambda line: line.debug_file)
    assert uploads.missing_symbols(day, "another product") == []
    uploads.record([f"{b}/{b.split('/')[0].removesuffix('.pdb')}.sym"])
    assert uploads.missing_symbols(day, product) == [line_a]
    _, recorded = uploads.recorded_since(uploads.recorded_since(None)[0] - 1)
    assert recorded == [f"{b}/{b.split('/')[0].removesuffix('.pdb')}.sym"]


def test_missing_symbols_api_checks_its_date(functions):
    answer = requests.get(f"{functions['query'].url}/api/MissingSymbols/", params={"date": "yesterday"}, timeout=30)
    assert answer.status_code == 400 and "must be a date like" in answer.json()["error"]
    answer = requests.get(f"{functions['query'].url}/api/MissingSymbols/", params={"date": "2001-01-01"}, timeout=30)
    assert answer.json() == {"hits": [], "total": 0}
    answer = requests.get(f"{functions['query'].url}/api/MissingSymbols/", params={"day": "2001-01-01"}, timeout=30)
    assert answer.status_code == 400 and "unknown parameter" in answer.json()["error"]
