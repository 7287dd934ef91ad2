"""Symbols that arrive late, on the real functions: a crash processed without its symbols
shows in the missing-symbols report; uploading them (Breakpad's sym_upload) makes the next
crash use them within seconds although the process instance had just found them missing,
queues the earlier crash for reprocessing by itself, and takes the module off the report."""

from __future__ import annotations

import datetime as dt
import json
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
from crashflow.late_symbols import crashes_missing
from crashflow.relay import Relay
from crashflow.settings import get_settings
from crashflow.stores.hbase import CrashTable
from crashflow.stores.postgres import Database
from crashflow.stores.s3 import SymbolStorage
from crashflow.stores.sqs import CrashQueues
from crashflow.tokens import TokenStore
from test_end_to_end import relay_until_processed, submit

pytestmark = pytest.mark.integration

SYMBOL_KEY = "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym"
MODULE = "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1"
WITH_SYMBOLS = "(anonymous namespace)::CrashFunction"


def take(queues: CrashQueues, kind: str) -> list[str]:
    found = []
    while messages := queues.receive(kind, max_messages=10):
        for message in messages:
            found.append(message.body)
            queues.delete(message)
    return found


def test_symbols_uploaded_late_are_used_at_once_and_fix_earlier_crashes(stack, functions, functions_symbols_cache,
                                                                        monkeypatch):
    symbols, queues = SymbolStorage(stack), CrashQueues(stack)
    symbols.delete(SYMBOL_KEY)
    shutil.rmtree(functions_symbols_cache / stack.symbols_bucket / "test_app.pdb", ignore_errors=True)
    query, product = functions["query"].url, f"Late{uuid.uuid4().hex[:8]}"
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    try:
        early = submit(functions["collect"].url, product)
        assert relay_until_processed(stack, functions, query, early)["signature"] == "test_app.exe"

        report = requests.get(f"{query}/api/MissingSymbols/", params={"date": today, "product": product},
                              timeout=30).json()
        assert {"debug_file": "test_app.pdb", "debug_id": "5A9832E5287241C1838ED98914E9B7FF1",
                "code_file": "test_app.exe", "code_id": "45d35f6c2d000", "crash_count": 1} in report["hits"], report
        monkeypatch.setenv("CRASHFLOW_NAMESPACE", stack.namespace)
        get_settings.cache_clear()  # the command reads the settings once per process
        try:
            csv = CliRunner().invoke(cli, ["symbols", "missing", "--date", today, "--product", product, "--csv"])
        finally:
            monkeypatch.undo()
            get_settings.cache_clear()
        assert csv.exit_code == 0, (csv.output, csv.exception)
        assert csv.output.splitlines()[0] == "debug_file,debug_id,code_file,code_id,crash_count"
        assert "test_app.pdb,5A9832E5287241C1838ED98914E9B7FF1,test_app.exe,45d35f6c2d000,1" in csv.output

        token = TokenStore(Database(stack)).create(["upload_symbols"])
        ok, reply = wire_clients.sym_upload_v1(f"{functions['collect'].url}/symbols/upload?key={token}",
                                               DATA / "symbols" / SYMBOL_KEY)
        assert ok, reply
        # The upload queued the crash that missed the module, by itself.
        assert early in take(queues, "reprocessing")

        # A new crash of the module: process found it missing moments ago (and would not ask
        # the bucket again for 10 minutes), yet uses the upload within seconds.
        time.sleep(stack.symbols_upload_poll_seconds + 0.5)
        later = submit(functions["collect"].url, product)
        assert relay_until_processed(stack, functions, query, later)["signature"] == WITH_SYMBOLS

        queues.publish("reprocessing", early)  # as the upload had queued it
        relay = Relay(stack.model_copy(update={"process_url": functions["process"].url}))
        while relay.drain_once():
            pass
        assert CrashTable(stack).get_processed_crash(early)["signature"] == WITH_SYMBOLS

        report = requests.get(f"{query}/api/MissingSymbols/", params={"date": today, "product": product},
                              timeout=30).json()
        assert MODULE not in {f"{hit['debug_file']}/{hit['debug_id']}" for hit in report["hits"]}
    finally:
        symbols.delete(SYMBOL_KEY)
        shutil.rmtree(functions_symbols_cache / stack.symbols_bucket / "test_app.pdb", ignore_errors=True)


def test_the_crashes_an_upload_queues_are_recent_deduplicated_and_bounded(stack):
    database = Database(stack)
    now = dt.datetime.now(dt.timezone.utc)
    a, b = f"a{uuid.uuid4().hex[:6]}.so/0A", f"b{uuid.uuid4().hex[:6]}.so/0B"
    crashes = {}
    for name, age, modules in (("old", 9, [a]), ("both", 1, [a, b]), ("newest", 0, [b]), ("mid", 2, [a]),
                               ("other", 0, [])):
        when = now - dt.timedelta(days=age, minutes=1)
        crash_id = create_crash_id(when)
        crashes[name] = crash_id
        row = {"uuid": crash_id, "date_processed": when, "product": "Bounded", "signature": "s",
               "missing_modules": {module: {"debug_file": module.split("/")[0], "debug_id": module.split("/")[1],
                                            "code_file": "", "code_id": ""} for module in modules} or None}
        database.upsert_report(row)
    with database.connection() as connection:
        found = crashes_missing(connection, [a, b], days=7, limit=100)
        assert found == [crashes["newest"], crashes["both"], crashes["mid"]]  # once each, newest first
        assert crashes_missing(connection, [a, b], days=7, limit=2) == [crashes["newest"], crashes["both"]]
        assert crashes_missing(connection, [a], days=0, limit=100) == []
        assert crashes_missing(connection, [a], days=30, limit=100) == [crashes["both"], crashes["mid"], crashes["old"]]


def test_missing_symbols_api_checks_its_date(functions):
    answer = requests.get(f"{functions['query'].url}/api/MissingSymbols/", params={"date": "yesterday"}, timeout=30)
    assert answer.status_code == 400 and "YYYY-MM-DD" in answer.json()["error"]
    answer = requests.get(f"{functions['query'].url}/api/MissingSymbols/", params={"date": "2001-01-01"}, timeout=30)
    assert answer.json() == {"hits": [], "total": 0}
