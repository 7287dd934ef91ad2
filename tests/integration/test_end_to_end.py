"""The walking skeleton: one real minidump through collect, process, aggregate and query,
on the S3 and SQS servers `make up` runs (SeaweedFS and ElasticMQ), not moto."""

import datetime as dt
import shutil
import time

import pytest
import requests
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent

from conftest import DATA
from crashflow.crashids import normalize_crash_id
from crashflow.relay import Relay
from crashflow.stores import postgres
from crashflow.stores.hbase import CrashTable
from crashflow.stores.s3 import CrashStorage
from crashflow.stores.sqs import CrashQueues

pytestmark = pytest.mark.integration

DUMP = DATA / "minidumps" / "test.dmp"
SYMBOL_KEY = "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym"


@pytest.fixture(scope="module")
def stack(durable_stack):
    return durable_stack


@pytest.fixture(scope="module")
def functions(durable_functions):
    return durable_functions


@pytest.fixture(scope="module")
def functions_symbols_cache(durable_symbols_cache):
    return durable_symbols_cache


def submit(collect_url: str, product: str) -> str:
    answer = requests.post(
        f"{collect_url}/submit",
        data={"ProductName": product, "Version": "1.0"},
        files={"upload_file_minidump": ("test.dmp", DUMP.read_bytes())},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.text.startswith("CrashID=bp-") and answer.text.endswith("\n")
    crash_id = answer.text.strip().removeprefix("CrashID=bp-")
    assert normalize_crash_id(crash_id) == crash_id
    return crash_id


def relay_until_processed(settings, functions, query_url, crash_id, timeout=30):
    """Run the relay until HBase holds the processed crash, then read it through query.
    HBase is watched, not query: query would process an unprocessed crash on demand and
    hide a relay that delivers nothing."""
    relay = Relay(settings.model_copy(update={"process_url": functions["process"].url}))
    table = CrashTable(settings)
    deadline = time.monotonic() + timeout
    while table.get_processed_crash(crash_id) is None:
        assert time.monotonic() < deadline, f"{crash_id} not processed in {timeout}s"
        relay.drain_once(wait_seconds=1)
    answer = requests.get(f"{query_url}/api/ProcessedCrash/", params={"crash_id": crash_id}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_crash_walks_through_all_four_functions(stack, functions):
    settings = stack
    product = f"E2E{int(time.time())}"
    crash_id = submit(functions["collect"].url, product)

    # Collect stored the raw crash and the dump in S3 in the v1 layout.
    storage = CrashStorage(settings)
    raw = storage.load_raw_crash(crash_id)
    assert raw["ProductName"] == product and raw["uuid"] == crash_id and raw["version"] == 2
    assert storage.load_dump(crash_id, "upload_file_minidump") == DUMP.read_bytes()
    assert storage.s3.get_object(Bucket=settings.crash_bucket, Key=f"v1/dump/{crash_id}")

    # The relay delivers the queued id to process, which stack-walks and signs it.
    query_url = functions["query"].url
    processed = relay_until_processed(settings, functions, query_url, crash_id)
    assert processed["signature"] == "test_app.exe"  # no symbols uploaded yet
    assert processed["mdsw_status_string"] == "OK"
    assert processed["stackwalk_version"].startswith("minidump-stackwalk")
    assert processed["os_name"] == "Windows NT"
    assert processed["json_dump"]["crash_info"]["type"] == "EXCEPTION_ACCESS_VIOLATION_WRITE"

    search = requests.get(f"{query_url}/api/SuperSearch/", params={"product": product}, timeout=30).json()
    assert search["total"] == 1
    assert search["hits"][0]["uuid"] == crash_id
    assert search["facets"]["signature"] == [{"term": "test_app.exe", "count": 1}]

    # A scheduled aggregate run (the CloudEvent PingSource would send) counts it per signature.
    today = dt.datetime.now(dt.timezone.utc).date()
    headers, body = to_binary(CloudEvent(
        {"type": "dev.knative.sources.ping", "source": "test"}, {"job": "top_crashers", "date": today.isoformat()}
    ))
    answer = requests.post(functions["aggregate"].url + "/", headers=headers, data=body, timeout=60)
    assert answer.status_code == 200, answer.text
    connection = postgres.connect(settings)
    try:
        rows = connection.run(
            "SELECT signature, report_count, win_count FROM top_crashers WHERE product = :p AND report_date = :d",
            p=product, d=today,
        )
    finally:
        connection.close()
    assert rows == [["test_app.exe", 1, 1]]


def test_symbols_uploaded_later_fix_the_signature_on_reprocessing(stack, functions, functions_symbols_cache):
    settings = stack
    query_url = functions["query"].url
    crash_id = submit(functions["collect"].url, "E2ESymbols")
    assert relay_until_processed(settings, functions, query_url, crash_id)["signature"] == "test_app.exe"

    storage = CrashStorage(settings)
    storage.s3.put_object(
        Bucket=settings.symbols_bucket, Key=SYMBOL_KEY,
        Body=(DATA / "symbols" / SYMBOL_KEY).read_bytes(),
    )
    try:
        CrashQueues(settings).publish("reprocessing", crash_id)
        relay = Relay(settings.model_copy(update={"process_url": functions["process"].url}))
        while relay.drain_once():  # earlier tests may have left crash ids in the standard queue
            pass
        assert CrashQueues(settings).count("reprocessing") == 0
        answer = requests.get(f"{query_url}/api/ProcessedCrash/", params={"crash_id": crash_id}, timeout=30)
        processed = answer.json()
        assert processed["signature"] == "(anonymous namespace)::CrashFunction"
        assert processed["processor_history"][-1].endswith("default: test_app.exe")
        # Crashes of a signature are found in Postgres: the row follows the new signature.
        with postgres.Database(settings).connection() as connection:
            assert connection.run("SELECT signature FROM reports WHERE uuid = :id", id=crash_id) == [
                ["(anonymous namespace)::CrashFunction"]
            ]
        frame = processed["json_dump"]["crashing_thread"]["frames"][0]
        assert frame["file"] == "c:\\test_app.cc" and frame["line"] == 58
    finally:
        storage.s3.delete_object(Bucket=settings.symbols_bucket, Key=SYMBOL_KEY)
        shutil.rmtree(functions_symbols_cache / settings.symbols_bucket / SYMBOL_KEY.split("/")[0], ignore_errors=True)


def test_priority_processing_of_an_unprocessed_crash(stack, functions):
    crash_id = submit(functions["collect"].url, "E2EPriority")
    # No relay runs: asking for the crash processes it on demand.
    answer = requests.get(
        f"{functions['query'].url}/api/ProcessedCrash/", params={"crash_id": f"bp-{crash_id}"}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["uuid"] == crash_id


@pytest.mark.parametrize(
    "crash_id, status",
    [("not-a-crash-id", 400), ("00000000-0000-4000-8000-000000261126", 404)],
)
def test_processed_crash_errors(functions, crash_id, status):
    answer = requests.get(f"{functions['query'].url}/api/ProcessedCrash/", params={"crash_id": crash_id}, timeout=30)
    assert answer.status_code == status
    assert "error" in answer.json()
