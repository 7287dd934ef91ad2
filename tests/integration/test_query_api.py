"""Contract tests of the query API's crash endpoints, tokens, rate limits, reprocessing,
signatures and health, against the real stack: crashes from tests/data go through the
collect and process functions; the query function runs as deployed (a subprocess)."""

from __future__ import annotations

import time

import pytest
import requests
from siggen.generator import SignatureGenerator
from siggen.utils import convert_to_crash_data

from conftest import DATA, free_port, start_query_server, submit, take_message  # noqa: F401  (others import them from here)
from crashflow.crashids import create_crash_id
from crashflow.fields import default_definitions
from crashflow.messages import ProcessingRequest
from crashflow.stores.hbase import CrashTable
from crashflow.stores.postgres import Database
from crashflow.stores.s3 import CrashStorage
from crashflow.stores.sqs import CrashQueues
from crashflow.tokens import TokenStore

pytestmark = pytest.mark.integration

PII = {"URL": "https://private.example/secret", "Email": "someone@example.com", "Comments": "my bank page crashed"}
PII_PROCESSED = {"url", "email", "user_comments"}
DUMPS = ["test.dmp", "linux-mini.dmp"]
DEFINITIONS = default_definitions()


@pytest.fixture(scope="module")
def api(stack, functions):
    """The query API without rate limits, trusting tokens for a moment only."""
    server = start_query_server(stack, functions, api_rate_limit_per_minute=0,
                                api_token_rate_limit_per_minute=0, api_token_cache_seconds=0.2)
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def crashes(stack, functions):
    """Real dumps with personal annotations, collected, then processed by the process function."""
    product = f"QueryApi{int(time.time())}"
    storage = CrashStorage(stack)
    ids = {}
    for dump in DUMPS:
        crash_id = submit(functions, dump, product, **PII)
        # This collector drops Email (drop_annotations); an installation that keeps it
        # stores it with the raw crash, as here.
        raw = storage.load_raw_crash(crash_id)
        assert "Email" not in raw
        # The collector writes its HBase row in the background (batched); overwrite it
        # only once it is there, or the collector's row would land after ours.
        table = CrashTable(stack)
        deadline = time.monotonic() + 30
        while table.get_raw_crash(crash_id) is None:
            assert time.monotonic() < deadline, "the collector never wrote its HBase row"
            time.sleep(0.1)
        dumps = {name: storage.load_dump(crash_id, name) for name in storage.load_dump_names(crash_id)}
        storage.save_raw_crash(crash_id, {**raw, "Email": PII["Email"]}, dumps)
        table.put_raw_crashes([(crash_id, {**raw, "Email": PII["Email"]})])
        answer = requests.post(f"{functions['process'].url}/process", params={"crash_id": crash_id}, timeout=120)
        assert answer.status_code == 200, answer.text
        ids[dump] = crash_id
    return product, ids


@pytest.fixture(scope="module")
def tokens(stack):
    store = TokenStore(Database(stack))
    return {
        "pii": store.create(["view_pii"], note="test"),
        "rawdump": store.create(["view_rawdump"]),
        "reprocess": store.create(["reprocess_crashes"]),
        "all": store.create(["view_pii", "view_rawdump", "reprocess_crashes"]),
        "none": store.create([]),
    }


def get(url, path, token=None, **params):
    headers = {"Auth-Token": token} if token else {}
    return requests.get(f"{url}{path}", params=params, headers=headers, timeout=60)


def test_processed_crash_by_id_and_bp_prefix(api, crashes, stack):
    _, ids = crashes
    crash_id = ids["test.dmp"]
    stored = CrashTable(stack).get_processed_crash(crash_id)
    for asked in (crash_id, f"bp-{crash_id}", crash_id.upper()):
        answer = get(api, "/api/ProcessedCrash/", crash_id=asked)
        assert answer.status_code == 200, answer.text
        assert answer.json()["uuid"] == crash_id
    # Without view_pii only the public fields are there, as stored, and _withheld names
    # the protected ones.
    assert PII_PROCESSED <= set(stored)
    public = get(api, "/api/ProcessedCrash/", crash_id=crash_id).json()
    assert public == get(api, "/api/ProcessedCrash/", crash_id=crash_id, format="meta").json()
    withheld = public.pop("_withheld")
    assert set(public) == {name for name in stored if DEFINITIONS.processed_crash.is_public(name)}
    assert PII_PROCESSED <= set(withheld["fields"]) and withheld["permission"] == "view_pii"
    # Everything crashflow's processor writes has a definition: nothing is "unlisted".
    assert withheld["count"] == len(withheld["fields"]) and withheld["unlisted"] == 0
    for name, value in public.items():
        if name != "json_dump":
            assert value == stored[name], name
    frames = public["json_dump"]["crashing_thread"]["frames"]
    stored_frames = stored["json_dump"]["crashing_thread"]["frames"]
    assert [f["function"] for f in frames] == [f["function"] for f in stored_frames]
    assert "registers" in stored_frames[0] and not any("registers" in frame for frame in frames)
    assert "json_dump.crashing_thread.frames.registers" in withheld["fields"]


@pytest.mark.parametrize("token, sees_pii", [(None, False), ("none", False), ("rawdump", False),
                                             ("reprocess", False), ("pii", True), ("all", True)])
def test_protected_fields_need_view_pii(api, crashes, tokens, token, sees_pii):
    _, ids = crashes
    crash_id = ids["linux-mini.dmp"]
    processed = get(api, "/api/ProcessedCrash/", tokens.get(token), crash_id=crash_id).json()
    raw = get(api, "/api/RawCrash/", tokens.get(token), crash_id=crash_id).json()
    if sees_pii:
        assert "_withheld" not in processed and "_withheld" not in raw
        assert processed["url"] == PII["URL"] and processed["email"] == PII["Email"]
        assert processed["user_comments"] == PII["Comments"]
        assert {raw[k] for k in PII} == set(PII.values())
    else:
        assert not PII_PROCESSED & set(processed)
        assert not set(PII) & set(raw)
        assert set(PII) <= set(raw["_withheld"]["fields"]) and PII_PROCESSED <= set(processed["_withheld"]["fields"])
        assert raw["ProductName"] == crashes[0]  # the rest is there


def test_raw_crash_meta(api, crashes, stack):
    _, ids = crashes
    crash_id = ids["test.dmp"]
    answer = get(api, "/api/RawCrash/", crash_id=f"bp-{crash_id}", format="meta")
    assert answer.status_code == 200
    stored = CrashStorage(stack).load_raw_crash(crash_id)
    public = answer.json()
    withheld = public.pop("_withheld")
    assert public == {k: v for k, v in stored.items() if k not in {*PII, "metadata"}}
    assert withheld == {"count": 4, "fields": sorted([*PII, "metadata"]), "unlisted": 0, "permission": "view_pii"}


@pytest.mark.parametrize("name", ["", "dump", "upload_file_minidump"])
def test_raw_dump_download_needs_view_rawdump(api, crashes, tokens, name):
    _, ids = crashes
    crash_id = ids["test.dmp"]
    for token in (None, "pii", "none"):
        answer = get(api, "/api/RawCrash/", tokens.get(token), crash_id=crash_id, format="raw", name=name)
        assert answer.status_code == 403 and "view_rawdump" in answer.json()["error"]
    for token in ("rawdump", "all"):
        answer = get(api, "/api/RawCrash/", tokens[token], crash_id=crash_id, format="raw", name=name)
        assert answer.status_code == 200
        assert answer.content == (DATA / "minidumps" / "test.dmp").read_bytes()
        assert answer.headers["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize("path, params, status", [
    ("/api/ProcessedCrash/", {"crash_id": "not-a-crash-id"}, 400),
    ("/api/ProcessedCrash/", {}, 400),
    ("/api/ProcessedCrash/", {"crash_id": "00000000-0000-4000-8000-000000261126"}, 404),
    ("/api/ProcessedCrash/", {"crash_id": "00000000-0000-4000-8000-000000261126", "bogus": "1"}, 400),
    # A crash id whose last six digits are no date (the fuzz run's 500): not a crash id.
    ("/api/ProcessedCrash/", {"crash_id": "f841b766-ba9b-2696-98ec-f3fb78045527"}, 400),
    ("/api/RawCrash/", {"crash_id": "bp-zz"}, 400),
    ("/api/RawCrash/", {"crash_id": "00000000-0000-4000-8000-000000261126"}, 404),
    ("/api/RawCrash/", {"crash_id": "00000000-0000-4000-8000-000000261126", "format": "xml"}, 400),
    ("/api/NoSuchThing/", {}, 404),
])
def test_crash_errors_are_json(api, path, params, status):
    answer = get(api, path, **params)
    assert answer.status_code == status
    assert answer.json()["error"]


def test_unknown_dump_name_is_404(api, crashes, tokens):
    _, ids = crashes
    answer = get(api, "/api/RawCrash/", tokens["rawdump"], crash_id=ids["test.dmp"], format="raw", name="memory_report")
    assert answer.status_code == 404 and "upload_file_minidump" in answer.json()["error"]


def test_bad_revoked_and_expired_tokens_are_403(api, stack, crashes):
    _, ids = crashes
    store = TokenStore(Database(stack))
    revoked = store.create(["view_pii"])
    assert get(api, "/api/ProcessedCrash/", revoked, crash_id=ids["test.dmp"]).status_code == 200
    store.revoke(revoked)
    expired = store.create(["view_pii"], expires_days=0.5 / 86400)
    time.sleep(0.7)  # past the expiry and the API's token cache
    for token in ("not-a-token", revoked, expired):
        for path in ("/api/ProcessedCrash/", "/api/SuperSearch/"):
            answer = get(api, path, token, crash_id=ids["test.dmp"])
            assert answer.status_code == 403, (token, path)
            assert "Auth-Token" in answer.json()["error"]


def test_priority_processing_answers_the_processed_crash(api, functions, stack):
    crash_id = submit(functions, "test.dmp", "QueryPriority")
    assert CrashTable(stack).get_processed_crash(crash_id) is None
    answer = get(api, "/api/ProcessedCrash/", crash_id=f"bp-{crash_id}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["uuid"] == crash_id and answer.json()["signature"]
    assert CrashTable(stack).get_processed_crash(crash_id)["uuid"] == crash_id


def test_priority_processing_too_slow_answers_pending_then_the_crash(stack, functions):
    server = start_query_server(stack, functions, priority_wait_seconds=0.001, api_rate_limit_per_minute=0)
    try:
        crash_id = submit(functions, "linux-mini.dmp", "QueryPending")
        answer = get(server.url, "/api/ProcessedCrash/", crash_id=crash_id)
        assert answer.status_code == 202, answer.text
        assert answer.json()["status"] == "pending" and answer.headers["Retry-After"]
        deadline = time.monotonic() + 60
        while answer.status_code == 202 and time.monotonic() < deadline:
            time.sleep(0.3)
            answer = get(server.url, "/api/ProcessedCrash/", crash_id=crash_id)
        assert answer.status_code == 200 and answer.json()["uuid"] == crash_id
    finally:
        server.stop()


def test_priority_processing_falls_back_to_the_priority_queue(stack, functions):
    """With the process function unreachable, the crash id goes to the priority queue."""
    server = start_query_server(stack, functions, process_url=f"http://127.0.0.1:{free_port()}",
                                priority_wait_seconds=5, api_rate_limit_per_minute=0)
    try:
        crash_id = submit(functions, "test.dmp", "QueryFallback")
        answer = get(server.url, "/api/ProcessedCrash/", crash_id=crash_id)
        assert answer.status_code == 202 and answer.json()["status"] == "pending"
        assert take_message(stack, "priority", crash_id)
    finally:
        server.stop()


def test_reprocessing_needs_its_permission_and_queues_the_ids(api, crashes, tokens, stack):
    _, ids = crashes
    url = f"{api}/api/Reprocessing/"
    queues = CrashQueues(stack)
    while queues.receive("reprocessing", max_messages=10):  # what other tests left is not ours
        pass
    form = {"crash_ids": [f"bp-{ids['test.dmp']}", f"{ids['linux-mini.dmp']}:regenerate_signature"]}
    for token in (None, "pii", "rawdump"):
        answer = requests.post(url, data=form, headers={"Auth-Token": tokens[token]} if token else {}, timeout=30)
        assert answer.status_code == 403
    assert requests.get(url, headers={"Auth-Token": tokens["reprocess"]}, timeout=30).status_code == 405
    for bad_ids in ([ids["test.dmp"], "nope"], [f"{ids['test.dmp']}:no_such_ruleset"]):
        bad = requests.post(url, data={"crash_ids": bad_ids}, headers={"Auth-Token": tokens["reprocess"]}, timeout=30)
        assert bad.status_code == 400, bad.text
    answer = requests.post(url, data=form, headers={"Auth-Token": tokens["reprocess"]}, timeout=30)
    assert answer.status_code == 200 and answer.json() is True
    bodies = []
    deadline = time.monotonic() + 10
    while len(bodies) < 2 and time.monotonic() < deadline:
        for message in queues.receive("reprocessing", wait_seconds=1):
            bodies.append(message.body)
            queues.delete(message)
    # The refused requests queued nothing: exactly the two accepted messages are there,
    # each saying it asks for fresh symbols.
    assert sorted((r.crash_id, r.ruleset, r.fresh_symbols) for r in map(ProcessingRequest.from_message, bodies)) == sorted(
        [(ids["test.dmp"], "default", True), (ids["linux-mini.dmp"], "regenerate_signature", True)]
    )


def test_crash_signature_runs_siggen_on_posted_frames(api, crashes, stack):
    _, ids = crashes
    processed = CrashTable(stack).get_processed_crash(ids["test.dmp"])
    crash_data = convert_to_crash_data(processed)
    expected = SignatureGenerator().generate(crash_data).signature
    answer = requests.post(f"{api}/api/CrashSignature/", json={"jobs": [crash_data, processed]}, timeout=30)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["signature"] for r in results] == [expected, processed["signature"]]
    assert all(isinstance(r["notes"], list) and isinstance(r["extra"], dict) for r in results)
    frames_only = {"os": "Linux", "crashing_thread": 0, "threads": [{"frames": [
        {"frame": 0, "function": "KiFastSystemCallRet", "module": "ntdll.dll"},
        {"frame": 1, "function": "js::GCMarker::processMarkStackTop", "module": "xul.dll"},
    ]}]}
    (result,) = requests.post(f"{api}/api/CrashSignature/", json={"jobs": [frames_only]}, timeout=30).json()["results"]
    assert result["signature"] == SignatureGenerator().generate(frames_only).signature
    for bad in ({}, {"jobs": "x"}, {"jobs": []}, {"jobs": [1]}, {"jobs": [{}] * 101}):
        assert requests.post(f"{api}/api/CrashSignature/", json=bad, timeout=30).status_code == 400
    assert requests.post(f"{api}/api/CrashSignature/", data="not json", timeout=30).status_code == 400


def test_health_endpoints(api):
    assert requests.get(f"{api}/__lbheartbeat__", timeout=10).json() == {}
    assert requests.get(f"{api}/__version__", timeout=10).json()["version"]
    answer = requests.get(f"{api}/__heartbeat__", timeout=30)
    assert answer.status_code == 200
    assert answer.json() == {"hbase": True, "postgres": True, "s3": True, "sqs": True}


def test_rate_limits_per_address_and_per_token(stack, functions, tokens):
    # One process: each keeps its own buckets.
    server = start_query_server(stack, functions, api_rate_limit_per_minute=3, api_token_rate_limit_per_minute=5,
                                query_workers=1)
    try:
        path = "/api/SuperSearchFields/"
        assert [get(server.url, path).status_code for _ in range(3)] == [200] * 3
        limited = get(server.url, path)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert "error" in limited.json()
        # A bad token counts against the address: still 429, guessing is slowed too.
        assert get(server.url, path, "guess").status_code == 429
        # A token has a budget of its own.
        assert [get(server.url, path, tokens["none"]).status_code for _ in range(6)] == [200] * 5 + [429]
        assert get(server.url, path, tokens["pii"]).status_code == 200
        # Health checks are never limited.
        assert requests.get(f"{server.url}/__lbheartbeat__", timeout=10).status_code == 200
    finally:
        server.stop()


def test_unprocessed_and_unknown_crash_ids(api):
    never_stored = create_crash_id()
    assert get(api, "/api/ProcessedCrash/", crash_id=never_stored).status_code == 404
    assert get(api, "/api/RawCrash/", crash_id=never_stored).status_code == 404


def test_processed_crashes_are_searchable_with_their_values(api, crashes, stack, tokens):
    product, ids = crashes
    columns = ["uuid", "signature", "os_name", "cpu_arch", "reason", "url", "user_comments", "email", "version"]
    answer = get(api, "/api/SuperSearch/", tokens["pii"], product=product, _columns=columns, _sort="uuid")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["total"] == len(DUMPS)
    table = CrashTable(stack)
    for hit in body["hits"]:
        processed = table.get_processed_crash(hit["uuid"])
        assert hit == {name: processed.get(name) or None for name in columns} | {"uuid": processed["uuid"]}
    assert body["facets"]["signature"] == sorted(
        ({"term": s, "count": 1} for s in (table.get_processed_crash(i)["signature"] for i in ids.values())),
        key=lambda f: f["term"])


def test_a_store_that_cannot_be_reached_gives_json_errors(stack, functions, crashes):
    """A query function whose HBase port has nothing behind it (the shared HBase is untouched)."""
    _, ids = crashes
    server = start_query_server(stack, functions, hbase_thrift_port=free_port(), api_rate_limit_per_minute=0)
    try:
        answer = get(server.url, "/api/ProcessedCrash/", crash_id=ids["test.dmp"])
        assert answer.status_code == 503 and "error" in answer.json() and answer.headers["Retry-After"]
        health = requests.get(f"{server.url}/__heartbeat__", timeout=30)
        assert health.status_code == 503 and health.json()["hbase"] is False and health.json()["postgres"] is True
        # What does not need HBase still works.
        assert get(server.url, "/api/SuperSearchFields/").status_code == 200
    finally:
        server.stop()
