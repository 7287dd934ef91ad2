"""collect over real HTTP (functions-framework + gunicorn, as deployed) against the real
S3, SQS and HBase of the test namespace: every test minidump in every encoding, and every
kind of bad input, checking the answer and what is (and is not) stored and queued."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import zlib
from pathlib import Path

import happybase
import pytest
import requests
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from conftest import DATA, TEST_NAMESPACE, FunctionServer, free_port
from crashflow.collector.throttler import ThrottleResult
from crashflow.crashids import create_crash_id, normalize_crash_id, throttle_result_from_crash_id
from crashflow.provision import provision
from crashflow.stores import postgres
from crashflow.stores.hbase import TABLES, CrashTable
from crashflow.stores.boto import boto3_client
from crashflow.stores.layout import dump_key
from crashflow.stores.s3 import CrashStorage, ensure_bucket
from crashflow.stores.sqs import DEAD_LETTER, QUEUE_KINDS, CrashQueues

pytestmark = pytest.mark.integration

BOUNDARY = "------------crashflowTestBoundary7MA4YWxk"
MINIDUMPS = sorted((DATA / "minidumps").glob("*.dmp"))
MAX_DECOMPRESSED = 16 * 1024 * 1024
RULES = """
rules:
  - {name: defer_me, annotation: ProductName, equals: DeferMe, result: DEFER}
  - {name: fake_me, annotation: ProductName, equals: FakeMe, result: FAKEACCEPT}
  - {name: reject_me, annotation: ProductName, equals: RejectMe, result: REJECT}
  - {name: accept_everything, always: true, result: ACCEPT}
"""


def start_collect(tmp_path_factory, **env) -> FunctionServer:
    rules = tmp_path_factory.mktemp("rules") / "rules.yaml"
    rules.write_text(RULES)
    server = FunctionServer("collect", free_port(), {
        **os.environ,
        "CRASHFLOW_NAMESPACE": TEST_NAMESPACE,
        "CRASHFLOW_THROTTLE_RULES": str(rules),
        "CRASHFLOW_MAX_DECOMPRESSED_BYTES": str(MAX_DECOMPRESSED),
        **env,
    })
    try:
        server.wait_ready()
    except Exception:
        server.stop()
        raise
    return server


@pytest.fixture(scope="module")
def collect(stack, tmp_path_factory):
    server = start_collect(tmp_path_factory)
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def storage(stack):
    return CrashStorage(stack)


@pytest.fixture(scope="module")
def queues(stack):
    return CrashQueues(stack)


@pytest.fixture(scope="module")
def table(stack):
    return CrashTable(stack)


def drain(queues: CrashQueues) -> set[str]:
    found = set()
    while messages := queues.receive("standard", max_messages=10):
        for message in messages:
            found.add(message.body)
            queues.delete(message)
    return found


@pytest.fixture(autouse=True)
def empty_queue(queues):
    drain(queues)


def drop_namespace(settings) -> None:
    """Remove what a test's own namespace left: database, buckets, queues, HBase tables."""
    admin = postgres.connect(settings, database="postgres")
    try:
        admin.run(f"DROP DATABASE IF EXISTS {settings.database} WITH (FORCE)")
    finally:
        admin.close()
    s3 = boto3_client(settings, "s3")
    for bucket in (settings.crash_bucket, settings.symbols_bucket):
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                if page.get("Contents"):
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": o["Key"]} for o in page["Contents"]]})
            s3.delete_bucket(Bucket=bucket)
        except ClientError:
            pass  # never made
    sqs = boto3_client(settings, "sqs")
    for kind in (*QUEUE_KINDS, DEAD_LETTER):
        try:
            sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=settings.queue_name(kind))["QueueUrl"])
        except ClientError:
            pass
    connection = happybase.Connection(settings.hbase_host, settings.hbase_thrift_port,
                                      table_prefix=settings.namespace, transport="buffered", protocol="binary")
    try:
        existing = {name.decode() for name in connection.tables()}
        for name in TABLES:
            if name in existing:
                connection.delete_table(name, disable=True)
    finally:
        connection.close()


@pytest.fixture
def own_namespace(stack, request):
    """Settings for a namespace of the test's own (named after it), dropped afterwards."""
    settings = stack.model_copy(update={"namespace": f"{TEST_NAMESPACE}{request.param}"})
    drop_namespace(settings)  # what a run that died left behind
    request.addfinalizer(lambda: drop_namespace(settings))
    return settings


def object_count(storage: CrashStorage) -> int:
    pages = storage.s3.get_paginator("list_objects_v2").paginate(Bucket=storage.bucket)
    return sum(page.get("KeyCount", 0) for page in pages)


def multipart(fields: dict[str, str], dumps: dict[str, bytes], json_extra=None, raw_json: bytes | None = None) -> bytes:
    out = []
    if raw_json is not None:
        out.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="extra"\r\n'
                   f"Content-Type: application/json\r\n\r\n".encode() + raw_json + b"\r\n")
    for name, value in fields.items():
        out.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
                   + value.encode() + b"\r\n")
    if json_extra is not None:
        out.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="extra"\r\n'
                   f"Content-Type: application/json\r\n\r\n".encode() + json.dumps(json_extra).encode() + b"\r\n")
    for name, data in dumps.items():
        out.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}.dmp"\r\n'
                   f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    out.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(out)


CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def post(url: str, body, headers: dict | None = None, params: dict | None = None) -> requests.Response:
    headers = {"Content-Type": CONTENT_TYPE, "User-Agent": "crashflow-tests/1", **(headers or {})}
    return requests.post(f"{url}/submit", data=body, headers=headers, params=params, timeout=60)


def in_pieces(data: bytes, size: int = 16 * 1024):
    """A generator body: requests sends it chunked, without Content-Length, as Crashpad does."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def accepted_id(answer: requests.Response) -> str:
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert answer.text.startswith("CrashID=bp-") and answer.text.endswith("\n"), answer.text
    crash_id = answer.text.strip().removeprefix("CrashID=bp-")
    assert normalize_crash_id(crash_id) == crash_id
    return crash_id


def hbase_row(table, crash_id: str, timeout: float = 10) -> dict | None:
    """The crash's HBase row, which the collector writes in the background after answering."""
    deadline = time.monotonic() + timeout
    while (row := table.get_raw_crash(crash_id)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return row


def check_stored(storage, table, queues, crash_id, annotations, dumps, queued=True):
    raw = storage.load_raw_crash(crash_id)
    for key, value in annotations.items():
        assert raw[key] == value
    assert raw["uuid"] == crash_id and raw["version"] == 2 and raw["submitted_timestamp"]
    assert storage.load_dump_names(crash_id) == sorted(dumps)
    for name, data in dumps.items():
        assert storage.load_dump(crash_id, name) == data
    assert raw["metadata"]["dump_checksums"] == {name: hashlib.sha256(data).hexdigest() for name, data in dumps.items()}
    row = hbase_row(table, crash_id)
    assert row is not None and row["uuid"] == crash_id and row["metadata"] == raw["metadata"]
    assert (crash_id in drain(queues)) is queued
    return raw


ENCODINGS = ["plain", "gzip", "chunked", "gzip+chunked", "json_extra", "multiple_dumps"]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("dump_path", MINIDUMPS, ids=[p.name for p in MINIDUMPS])
def test_every_minidump_in_every_encoding(collect, storage, table, queues, dump_path: Path, encoding: str):
    dump = dump_path.read_bytes()
    fields = {"ProductName": "Test", "Version": "1.0", "BuildID": "20261101000000"}
    dumps = {"upload_file_minidump": dump}
    json_extra = None
    if encoding == "json_extra":
        json_extra, fields = {**fields, "Extra": {"nested": [1, 2]}}, {"Comments": "both kinds"}
    if encoding == "multiple_dumps":
        dumps = {**dumps, "upload_file_minidump_browser": dump[::-1], "memory_report": gzip.compress(b"{}")}
    body = multipart(fields, dumps, json_extra)
    headers = {}
    if "gzip" in encoding:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    answer = post(collect, in_pieces(body) if "chunked" in encoding else body, headers)
    crash_id = accepted_id(answer)
    assert throttle_result_from_crash_id(crash_id) == 0

    expected = {"ProductName": "Test", "Version": "1.0", "BuildID": "20261101000000"}
    raw = check_stored(storage, table, queues, crash_id, expected, dumps)
    assert storage.s3.get_object(Bucket=storage.bucket, Key=f"v1/dump/{crash_id}")["Body"].read() == dump
    metadata = raw["metadata"]
    assert metadata["payload"] == ("json" if encoding == "json_extra" else "multipart")
    assert metadata["payload_compressed"] == ("1" if "gzip" in encoding else "0")
    assert metadata["payload_size"] == len(body)
    assert metadata["user_agent"] == "crashflow-tests/1"
    assert metadata["throttle_rule"] == "accept_everything"
    if encoding == "json_extra":
        assert raw["Extra"] == '{"nested": [1, 2]}' and raw["Comments"] == "both kinds"
        assert metadata["collector_notes"] == ["annotations came both as form fields and as a JSON part"]


def test_exactly_the_request_limit_passes_and_one_byte_more_is_413(collect, storage, queues):
    limit = 25 * 1024 * 1024
    empty = multipart({"ProductName": "Test"}, {"upload_file_minidump": b""})
    body = multipart({"ProductName": "Test"}, {"upload_file_minidump": b"M" * (limit - len(empty))})
    assert len(body) == limit
    crash_id = accepted_id(post(collect, body))
    assert len(storage.load_dump(crash_id, "upload_file_minidump")) == limit - len(empty)
    drain(queues)

    before = object_count(storage)
    too_big = multipart({"ProductName": "Test"}, {"upload_file_minidump": b"M" * (limit - len(empty) + 1)})
    for data in (too_big, in_pieces(too_big, 1024 * 1024)):  # announced, then chunked
        answer = post(collect, data)
        assert (answer.status_code, answer.text) == (413, "Discarded=too_large")
    assert object_count(storage) == before and drain(queues) == set()


def gzip_bomb(inflated: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1024 * 1024)
    return b"".join(compressor.compress(block) for _ in range(inflated // len(block))) + compressor.flush()


TRUNCATED = multipart({"ProductName": "Test"}, {"upload_file_minidump": b"MDMP" * 100})[:-300]


@pytest.mark.parametrize("headers, body, status, answer_text", [
    ({"Content-Type": None}, b"ProductName=Test", 400, "Discarded=malformed_no_content_type"),
    ({"Content-Type": "application/x-www-form-urlencoded"}, b"ProductName=Test", 400,
     "Discarded=malformed_wrong_content_type"),
    ({"Content-Type": "multipart/form-data"}, multipart({"ProductName": "Test"}, {}), 400,
     "Discarded=malformed_no_boundary"),
    ({"Content-Encoding": "gzip"}, multipart({"ProductName": "Test"}, {}), 400, "Discarded=malformed_bad_gzip"),
    ({"Content-Encoding": "gzip"}, gzip_bomb(4 * MAX_DECOMPRESSED), 413, "Discarded=too_large"),
    ({}, TRUNCATED, 400, "Discarded=malformed_invalid_payload_structure"),
    ({}, multipart({}, {}, json_extra=None, raw_json=b'{"ProductName": '), 400, "Discarded=malformed_invalid_json"),
    ({}, multipart({}, {}, json_extra=[1, 2]), 400, "Discarded=malformed_invalid_json_value"),
    ({}, multipart({}, {"upload_file_minidump": b"MDMP"}), 400, "Discarded=malformed_no_annotations"),
    ({}, multipart({"ProductName": "Test"}, {"raw_crash": b"MDMP"}), 400, "Discarded=malformed_invalid_dump_name"),
    ({}, multipart({"ProductName": "Test"}, {"../dump_names": b"MDMP"}), 400,
     "Discarded=malformed_invalid_dump_name"),
], ids=["no_content_type", "wrong_content_type", "no_boundary", "bad_gzip", "gzip_bomb", "truncated_multipart",
        "invalid_json", "json_array", "no_annotations", "reserved_dump_name", "traversal_to_reserved_name"])
def test_bad_input_is_refused_and_nothing_is_stored(collect, storage, queues, headers, body, status, answer_text):
    before = object_count(storage)
    answer = post(collect, body, headers)
    assert (answer.status_code, answer.text) == (status, answer_text)
    assert object_count(storage) == before
    assert drain(queues) == set()


def test_body_cut_off_by_the_client_is_refused(collect, storage):
    """The client announces more than it sends and stops sending: nothing is stored."""
    body = multipart({"ProductName": "Test"}, {"upload_file_minidump": b"MDMP" * 1000})
    host, port = collect.removeprefix("http://").split(":")
    before = object_count(storage)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            f"POST /submit HTTP/1.1\r\nHost: {host}\r\nContent-Type: {CONTENT_TYPE}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body[: len(body) // 2]
        )
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert b"500" not in reply.split(b"\r\n", 1)[0]
    if reply:  # the client is gone; if it reads at all it reads a 400
        assert reply.startswith(b"HTTP/1.1 400") and reply.endswith(b"Discarded=malformed_invalid_payload_structure")
    assert object_count(storage) == before


def test_path_traversal_dump_name_is_sanitized(collect, storage, table, queues):
    answer = post(collect, multipart({"ProductName": "Test"}, {"../../etc/passwd": b"MDMP"}))
    crash_id = accepted_id(answer)
    raw = check_stored(storage, table, queues, crash_id, {"ProductName": "Test"}, {"etcpasswd": b"MDMP"})
    assert storage.s3.get_object(Bucket=storage.bucket, Key=dump_key(crash_id, "etcpasswd"))
    assert "dump name '../../etc/passwd' sanitized to 'etcpasswd'" in raw["metadata"]["collector_notes"]


def test_no_content_length_and_not_chunked(collect):
    host, port = collect.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"POST /submit HTTP/1.1\r\nHost: {host}\r\nContent-Type: {CONTENT_TYPE}\r\n"
                     f"Connection: close\r\n\r\n".encode())
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400") and reply.endswith(b"Discarded=malformed_no_content_length")


def test_electron_names_query_string_and_dropped_email(collect, storage, table, queues):
    fields = {"prod": "ElectronApp", "_version": "3.2.1", "Email": "me@example.com", "platform": "win32"}
    answer = post(collect, multipart(fields, {"upload_file_minidump": b"MDMP"}),
                  params={"product": "Ignored", "version": "9", "guid": "abc-123"})
    crash_id = accepted_id(answer)
    expected = {"ProductName": "ElectronApp", "Version": "3.2.1", "prod": "ElectronApp", "_version": "3.2.1",
                "guid": "abc-123"}
    raw = check_stored(storage, table, queues, crash_id, expected, {"upload_file_minidump": b"MDMP"})
    assert "Email" not in raw and "Email" not in table.get_raw_crash(crash_id)
    assert "dropped annotation Email" in raw["metadata"]["collector_notes"]

    # Crashpad's query string fills what the body lacks.
    crash_id = accepted_id(post(collect, multipart({"Other": "x"}, {"upload_file_minidump": b"MDMP"}),
                                params={"product": "QueryApp", "version": "2.0"}))
    check_stored(storage, table, queues, crash_id, {"ProductName": "QueryApp", "Version": "2.0"},
                 {"upload_file_minidump": b"MDMP"})


def test_throttle_results(collect, storage, table, queues):
    def send(product):
        return post(collect, multipart({"ProductName": product}, {"upload_file_minidump": b"MDMP"}))

    answer = send("RejectMe")
    assert (answer.status_code, answer.text) == (200, "Discarded=rule_reject_me")

    before = object_count(storage)
    fake_id = accepted_id(send("FakeMe"))
    assert throttle_result_from_crash_id(fake_id) == 3
    assert object_count(storage) == before and table.get_raw_crash(fake_id) is None

    deferred_id = accepted_id(send("DeferMe"))
    assert throttle_result_from_crash_id(deferred_id) == 1
    raw = check_stored(storage, table, queues, deferred_id, {"ProductName": "DeferMe"},
                       {"upload_file_minidump": b"MDMP"}, queued=False)
    assert raw["metadata"]["throttle_rule"] == "defer_me" and raw["metadata"]["throttle_result"] == "DEFER"
    assert drain(queues) == set()


def test_health_endpoints(collect):
    assert requests.get(f"{collect}/__lbheartbeat__", timeout=10).status_code == 200
    assert requests.get(f"{collect}/__version__", timeout=10).json()["commit"]
    answer = requests.get(f"{collect}/__heartbeat__", timeout=30)
    assert (answer.status_code, answer.json()) == (200, {"s3": "ok", "sqs": "ok", "hbase": "ok"})
    assert requests.get(f"{collect}/submit", timeout=10).status_code == 404


@pytest.mark.parametrize("own_namespace", ["health"], indirect=True)
def test_health_checks_ask_the_stores_every_time(own_namespace):
    settings = own_namespace
    ensure_bucket(settings, settings.crash_bucket)
    queues, storage = CrashQueues(settings), CrashStorage(settings)
    queues.ensure_queues()
    assert queues.is_healthy() and storage.is_healthy()
    queues.sqs.delete_queue(QueueUrl=queues.url("standard"))
    boto3_client(settings, "s3").delete_bucket(Bucket=settings.crash_bucket)
    assert not queues.is_healthy()  # its URL was looked up (and cached) before
    assert not storage.is_healthy()


def test_bad_throttle_rules_stop_the_function_at_start_up(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: x\n    result: ACCEPT\n")
    server = subprocess.run(
        [str(Path(sys.executable).parent / "crashflow"), "serve", "--source",
         str(Path(__file__).resolve().parents[2] / "functions" / "collect" / "main.py"),
         "--target", "collect", "--port", str(free_port())],
        env=dict(os.environ, CRASHFLOW_THROTTLE_RULES=str(bad), CRASHFLOW_NAMESPACE=TEST_NAMESPACE),
        capture_output=True, text=True, timeout=60,
    )
    assert server.returncode != 0
    assert "InvalidThrottleRules" in server.stderr and "needs exactly one of always" in server.stderr


def closed_port() -> str:
    return str(free_port())


def test_hbase_down_still_accepts(stack, tmp_path_factory, storage, queues):
    server = start_collect(tmp_path_factory, CRASHFLOW_HBASE_THRIFT_PORT=closed_port())
    try:
        crash_id = accepted_id(post(server.url, multipart({"ProductName": "Test"}, {"upload_file_minidump": b"MD"})))
        assert storage.load_raw_crash(crash_id)["ProductName"] == "Test"
        assert crash_id in drain(queues)
        answer = requests.get(f"{server.url}/__heartbeat__", timeout=30)
        assert answer.status_code == 200 and answer.json()["hbase"].startswith("down")
    finally:
        server.stop()


@pytest.mark.parametrize("own_namespace", ["recover"], indirect=True)
def test_queue_down_still_accepts_and_recover_requeues(own_namespace, tmp_path_factory):
    # A namespace of its own: recover walks every crash of the days, and this one should
    # not wait for all the others the suite stored.
    settings = own_namespace
    provision(settings)
    storage, queues = CrashStorage(settings), CrashQueues(settings)
    # Accepted just before midnight, while the queue was down: recover's default covers it.
    yesterday = create_crash_id(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1), ThrottleResult.ACCEPT)
    storage.save_raw_crash(yesterday, {"ProductName": "Test", "uuid": yesterday}, {"upload_file_minidump": b"MD"})
    server = start_collect(tmp_path_factory, CRASHFLOW_NAMESPACE=settings.namespace,
                           CRASHFLOW_SQS_ENDPOINT_URL=f"http://127.0.0.1:{closed_port()}")
    try:
        crash_id = accepted_id(post(server.url, multipart({"ProductName": "Test"}, {"upload_file_minidump": b"MD"})))
        assert storage.load_raw_crash(crash_id)["ProductName"] == "Test"
        assert requests.get(f"{server.url}/__heartbeat__", timeout=60).status_code == 503
    finally:
        server.stop()
    assert crash_id not in drain(queues)
    recovered = subprocess.run(
        [str(Path(sys.executable).parent / "crashflow"), "recover"],
        env=dict(os.environ, CRASHFLOW_NAMESPACE=settings.namespace), capture_output=True, text=True, timeout=120,
    )
    assert recovered.returncode == 0, recovered.stderr
    assert drain(queues) == {crash_id, yesterday}


def test_storage_down_answers_503_and_queues_nothing(stack, tmp_path_factory, queues):
    server = start_collect(tmp_path_factory, CRASHFLOW_S3_ENDPOINT_URL=f"http://127.0.0.1:{closed_port()}")
    try:
        answer = post(server.url, multipart({"ProductName": "Test"}, {"upload_file_minidump": b"MD"}))
        assert (answer.status_code, answer.text) == (503, "Discarded=storage_unavailable")
        assert requests.get(f"{server.url}/__heartbeat__", timeout=60).status_code == 503
    finally:
        server.stop()
    assert drain(queues) == set()


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    parts=st.lists(st.tuples(
        st.sampled_from(["ProductName", "Version", "extra", "upload_file_minidump", "raw_crash", "", "a b"]),
        st.one_of(st.none(), st.sampled_from(["x.dmp", ""])),
        st.sampled_from([None, "application/json", "application/octet-stream"]),
        st.binary(max_size=300),
    ), max_size=5),
    cut=st.one_of(st.none(), st.integers(min_value=0, max_value=2000)),
    gzipped=st.booleans(),
    chunked=st.booleans(),
)
def test_random_bodies_over_http_never_get_a_500(collect, parts, cut, gzipped, chunked):
    body = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"'.encode()
        + (f'; filename="{filename}"'.encode() if filename is not None else b"")
        + (f"\r\nContent-Type: {ctype}".encode() if ctype else b"")
        + b"\r\n\r\n" + data + b"\r\n"
        for name, filename, ctype, data in parts
    ) + f"--{BOUNDARY}--\r\n".encode()
    if cut is not None:
        body = body[:cut]
    headers = {}
    if gzipped:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    answer = post(collect, in_pieces(body, 100) if chunked else body, headers)
    assert answer.status_code in (200, 400, 413), answer.text
    assert answer.text.startswith(("CrashID=bp-", "Discarded="))


def test_refused_uploads_leave_the_connection_usable(collect, queues):
    """After a refusal the rest of the body is read and dropped, so a keep-alive client
    gets its answer and can send the next crash on the same connection."""
    session = requests.Session()
    # Refused at its first part: most of the body is still unread then.
    bad = multipart({}, {"upload_file_minidump": b"M" * 300_000}, raw_json=b"{nope")
    good = multipart({"ProductName": "Test"}, {"upload_file_minidump": b"M" * 300_000})
    headers = {"Content-Type": CONTENT_TYPE}
    for _ in range(3):
        answer = session.post(f"{collect}/submit", data=bad, headers=headers, timeout=60)
        assert (answer.status_code, answer.text) == (400, "Discarded=malformed_invalid_json")
        answer = session.post(f"{collect}/nothing", data=good, headers=headers, timeout=60)
        assert answer.status_code == 404
    accepted_id(session.post(f"{collect}/submit", data=good, headers=headers, timeout=60))
    drain(queues)
