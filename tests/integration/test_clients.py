"""Real clients, unmodified: each sends what it sends in the field (tests/wire_clients.py
makes the same libcurl calls the tool makes) to the real collect function, and what is
stored is checked in the real S3, SQS and Postgres of the test namespace."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import threading
import uuid
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

import wire_clients
from conftest import DATA, REPO, TEST_NAMESPACE, FunctionServer, free_port
from crashflow.cli import main as cli
from crashflow.crashids import normalize_crash_id
from crashflow.stores.boto import boto3_client
from crashflow.stores.postgres import Database
from crashflow.stores.s3 import SymbolStorage
from crashflow.tokens import TokenStore
from test_collect import drain, object_count, queues, storage  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration

DUMP = DATA / "minidumps" / "linux-mini.dmp"
SYMBOLS = DATA / "symbols"
NULL_READ = "null_read_av/7B7D1968FF0D47AE4366E9C3A7E1B6750/null_read_av.sym"
CRASH_CLIENT = "crash-client/509C0610949836F7B70BD88BCF03E5400/crash-client.sym"


@pytest.fixture(scope="module")
def collect(stack):
    server = FunctionServer("collect", free_port(), dict(os.environ, CRASHFLOW_NAMESPACE=TEST_NAMESPACE))
    try:
        server.wait_ready()
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def token(stack):
    return TokenStore(Database(stack)).create(["upload_symbols"], note="client tests")


@pytest.fixture
def symbols_bucket(stack):
    """The symbols bucket, emptied before and after the test."""
    s3 = boto3_client(stack, "s3")

    def keys():
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=stack.symbols_bucket)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def empty():
        for key in keys():
            s3.delete_object(Bucket=stack.symbols_bucket, Key=key)

    empty()
    yield keys
    empty()


def crash_id_of(reply: wire_clients.Reply) -> str:
    assert reply.curl_ok and reply.status == 200, (reply.status, reply.body)
    assert reply.body.startswith("CrashID=bp-") and reply.body.endswith("\n"), reply.body
    crash_id = reply.body.strip().removeprefix("CrashID=bp-")
    assert normalize_crash_id(crash_id) == crash_id
    return crash_id


# ---- crash uploads


def test_breakpad_minidump_upload(collect, storage, queues):
    """``minidump_upload -p NativeApp -v 1.4.2 DUMP URL``: prod/ver fields, the Breakpad user agent."""
    crash_id = crash_id_of(wire_clients.minidump_upload(f"{collect}/submit", DUMP, "NativeApp", "1.4.2"))
    raw = storage.load_raw_crash(crash_id)
    assert (raw["ProductName"], raw["Version"], raw["prod"], raw["ver"]) == ("NativeApp", "1.4.2", "NativeApp", "1.4.2")
    assert raw["metadata"]["user_agent"] == "Breakpad/1.0 (Linux)"
    assert raw["metadata"]["payload"] == "multipart" and raw["metadata"]["payload_compressed"] == "0"
    assert storage.load_dump(crash_id, "upload_file_minidump") == DUMP.read_bytes()
    assert crash_id in drain(queues)


def test_crashpad_gzip_chunked_with_query_string(collect, storage, queues):
    """Crashpad's handler: annotations sorted, the dump as <report uuid>.dmp, an attachment,
    gzip, chunked, and ?product=&version=&guid= from its prod/ver/guid annotations."""
    guid = str(uuid.uuid4())
    annotations = {"prod": "CrashpadApp", "ver": "7.0.1", "guid": guid, "plat": "Linux", "channel": "beta"}
    reply = wire_clients.crashpad_upload(f"{collect}/submit", annotations, DUMP.read_bytes(), str(uuid.uuid4()),
                                         attachments={"log.txt": b"last words"})
    crash_id = crash_id_of(reply)
    raw = storage.load_raw_crash(crash_id)
    assert (raw["ProductName"], raw["Version"], raw["guid"]) == ("CrashpadApp", "7.0.1", guid)
    assert raw["metadata"]["payload_compressed"] == "1"
    assert raw["metadata"]["user_agent"].startswith("Crashpad/")
    assert storage.load_dump(crash_id, "upload_file_minidump") == DUMP.read_bytes()
    assert storage.load_dump(crash_id, "logtxt") == b"last words"  # Socorro's sanitized name
    assert crash_id in drain(queues)


def test_electron_app_is_filed_under_its_own_name(collect, storage, queues):
    """Electron (Crashpad underneath) sends Electron's own name and version as prod/ver, so
    also in the URL; the app's pair (_productName/_version) must win, originals kept."""
    annotations = {
        "prod": "Electron", "ver": "28.1.0", "_productName": "Notes", "_version": "2.4.0",
        "_companyName": "Acme", "platform": "linux", "process_type": "browser", "guid": str(uuid.uuid4()),
    }
    crash_id = crash_id_of(wire_clients.crashpad_upload(f"{collect}/submit", annotations, DUMP.read_bytes(),
                                                        str(uuid.uuid4())))
    raw = storage.load_raw_crash(crash_id)
    assert (raw["ProductName"], raw["Version"]) == ("Notes", "2.4.0")
    assert {name: raw[name] for name in annotations} == annotations
    assert crash_id in drain(queues)


FIREFOX_EXTRA = {
    "ProductName": "Firefox", "Version": "140.0.2", "BuildID": "20250701000000", "ReleaseChannel": "release",
    "CrashTime": "1751400000", "StartupTime": "1751399000", "Throttleable": "1",
    "TelemetryEnvironment": json.dumps({"build": {"applicationName": "Firefox"}}),
    "MozCrashReason": "MOZ_RELEASE_ASSERT(false)",
}


def test_firefox_extra_json_file_part(collect, storage, queues, tmp_path):
    """Firefox's crash reporter: the annotations are the file part extra.json
    (application/json), next to the minidumps."""
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps(FIREFOX_EXTRA))
    browser = tmp_path / "browser.dmp"
    browser.write_bytes(DUMP.read_bytes()[::-1])
    reply = wire_clients.firefox_upload(f"{collect}/submit", extra, {"upload_file_minidump": DUMP,
                                                                     "upload_file_minidump_browser": browser})
    crash_id = crash_id_of(reply)
    raw = storage.load_raw_crash(crash_id)
    assert {name: raw[name] for name in FIREFOX_EXTRA} == FIREFOX_EXTRA
    assert raw["metadata"]["payload"] == "json"
    assert storage.load_dump_names(crash_id) == ["upload_file_minidump", "upload_file_minidump_browser"]
    assert storage.load_dump(crash_id, "upload_file_minidump") == DUMP.read_bytes()
    assert crash_id in drain(queues)


def test_firefox_part_holding_a_json_array_is_malformed(collect, storage, queues, tmp_path):
    extra = tmp_path / "extra.json"
    extra.write_text("[1, 2, 3]")
    before = object_count(storage)
    reply = wire_clients.firefox_upload(f"{collect}/submit", extra, {"upload_file_minidump": DUMP})
    assert (reply.status, reply.body) == (400, "Discarded=malformed_invalid_json_value")
    assert object_count(storage) == before and drain(queues) == set()


def capture_one_request(send) -> bytes:
    """The bytes ``send(url)`` puts on the wire, read by a bare socket that answers 200."""
    server = socket.create_server(("127.0.0.1", 0))
    received = bytearray()

    def serve():
        connection, _ = server.accept()
        with connection:
            connection.settimeout(5)
            try:
                while chunk := connection.recv(65536):
                    received.extend(chunk)
                    if received.endswith(b"--\r\n"):
                        break
            except TimeoutError:
                pass
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    thread = threading.Thread(target=serve)
    thread.start()
    send(f"http://127.0.0.1:{server.getsockname()[1]}/submit")
    thread.join(10)
    server.close()
    return bytes(received)


def test_the_firefox_replica_sends_the_part_as_firefox_does(tmp_path):
    """What the test above sent is the shape the issue describes, byte for byte."""
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps(FIREFOX_EXTRA))
    wire = capture_one_request(lambda url: wire_clients.firefox_upload(url, extra, {"upload_file_minidump": DUMP}))
    assert (b'Content-Disposition: form-data; name="extra"; filename="extra.json"\r\n'
            b"Content-Type: application/json\r\n\r\n" + extra.read_bytes()) in wire


# ---- Socorro's malformed reasons over HTTP

BOUNDARY = "------------------------4f1e2d3c4b5a6978"


def form(fields: dict[str, str], boundary: str = BOUNDARY) -> bytes:
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                    for k, v in fields.items())
    return body + (f'--{boundary}\r\nContent-Disposition: form-data; name="upload_file_minidump"; '
                   f'filename="a.dmp"\r\nContent-Type: application/octet-stream\r\n\r\n').encode() \
        + DUMP.read_bytes() + f"\r\n--{boundary}--\r\n".encode()


@pytest.mark.parametrize("body, encoding", [
    (form({"ProductName": "X"}, boundary="not-the-announced-boundary"), None),
    (b"\x00\x01 junk that is no multipart body at all", None),
    (gzip.compress(b"--" + BOUNDARY.encode() + b"\r\nbroken headers without end"), "gzip"),
], ids=["wrong_boundary", "junk_body", "gzip_of_broken_multipart"])
def test_unparseable_bodies_get_socorros_reason(collect, storage, queues, body, encoding):
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    if encoding:
        headers["Content-Encoding"] = encoding
    before = object_count(storage)
    answer = requests.post(f"{collect}/submit", data=body, headers=headers, timeout=30)
    assert (answer.status_code, answer.text) == (400, "Discarded=malformed_invalid_payload_structure")
    assert object_count(storage) == before and drain(queues) == set()


def test_body_shorter_than_its_content_length(collect, storage, queues):
    """The client announces more than it sends and half-closes: Socorro's reason, nothing stored."""
    body = form({"ProductName": "X"})
    host, port = collect.removeprefix("http://").split(":")
    before = object_count(storage)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"POST /submit HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; "
                     f"boundary={BOUNDARY}\r\nContent-Length: {len(body) + 500}\r\nConnection: close\r\n\r\n"
                     .encode() + body)
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
    assert reply.endswith(b"Discarded=malformed_invalid_payload_structure")
    assert object_count(storage) == before and drain(queues) == set()


# ---- Dockerflow


def test_version_has_the_dockerflow_shape(collect, functions):
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    for url in (collect, functions["query"].url):
        answer = requests.get(f"{url}/__version__", timeout=10)
        assert answer.status_code == 200
        info = answer.json()
        assert sorted(info) == ["build", "commit", "source", "version"]
        assert all(isinstance(value, str) for value in info.values())
        assert info["commit"] == commit and info["version"] and info["source"]


def test_version_file_of_a_deployment_is_served(stack, tmp_path):
    version = {"source": "https://example.org/crashflow", "version": "v1.2.3", "commit": "a" * 40,
               "build": "https://ci.example.org/runs/42"}
    (tmp_path / "version.json").write_text(json.dumps(version))
    server = FunctionServer("collect", free_port(), dict(os.environ, CRASHFLOW_NAMESPACE=TEST_NAMESPACE,
                                                        CRASHFLOW_VERSION_FILE=str(tmp_path / "version.json")))
    try:
        server.wait_ready()
        assert requests.get(f"{server.url}/__version__", timeout=10).json() == version
    finally:
        server.stop()


# ---- Breakpad's sym_upload, v1


def test_sym_upload_v1_with_the_token_in_the_url(stack, collect, token, symbols_bucket):
    ok, reply = wire_clients.sym_upload_v1(f"{collect}/symbols/upload?key={token}", SYMBOLS / NULL_READ)
    assert ok, (reply.status, reply.body)
    assert reply.status == 200
    assert [item["key"] for item in json.loads(reply.body)] == [NULL_READ]
    assert symbols_bucket() == [NULL_READ]
    assert SymbolStorage(stack).read_head(NULL_READ, 10**6) == (SYMBOLS / NULL_READ).read_bytes()


def test_sym_upload_v1_without_or_with_a_bad_token_fails(collect, stack, symbols_bucket):
    ok, reply = wire_clients.sym_upload_v1(f"{collect}/symbols/upload", SYMBOLS / NULL_READ)
    assert not ok and reply.status == 401 and not reply.curl_ok  # CURLOPT_FAILONERROR
    ok, reply = wire_clients.sym_upload_v1(f"{collect}/symbols/upload?key=wrong", SYMBOLS / NULL_READ)
    assert not ok and reply.status == 403
    view_only = TokenStore(Database(stack)).create(["view_pii"])
    ok, reply = wire_clients.sym_upload_v1(f"{collect}/symbols/upload?key={view_only}", SYMBOLS / NULL_READ)
    assert not ok and reply.status == 403
    assert symbols_bucket() == []


def test_sym_upload_v1_fields_that_disagree_with_the_module_line_are_refused(collect, token, symbols_bucket, tmp_path):
    # A file whose MODULE line says one module, sent as sym_upload would send another's.
    lying = tmp_path / "crash-client.sym"
    lying.write_bytes((SYMBOLS / CRASH_CLIENT).read_bytes())
    _, os_name, cpu, debug_id, debug_file = wire_clients.module_line(lying)
    reply = wire_clients.breakpad_http_upload(
        f"{collect}/symbols/upload?key={token}",
        {"os": os_name, "cpu": cpu, "debug_file": "other-module", "code_file": "other-module",
         "debug_identifier": debug_id},
        {"symbol_file": lying},
    )
    assert reply.status == 400 and not reply.curl_ok
    assert symbols_bucket() == []


# ---- Breakpad's sym_upload, v2


def test_sym_upload_v2_uploads_then_finds_then_reports_duplicates(stack, collect, token, symbols_bucket):
    base = f"{collect}/symbols"
    outcome = wire_clients.sym_upload_v2(base, token, SYMBOLS / CRASH_CLIENT)
    assert outcome.success and outcome.message == "Successfully sent the symbol file.", outcome
    assert outcome.calls == [("checkStatus", 200), ("create", 200), ("put", 200), ("complete", 200)]
    assert symbols_bucket() == [CRASH_CLIENT]  # the staged copy is gone
    assert SymbolStorage(stack).read_head(CRASH_CLIENT, 10**7) == (SYMBOLS / CRASH_CLIENT).read_bytes()

    outcome = wire_clients.sym_upload_v2(base, token, SYMBOLS / CRASH_CLIENT)
    assert outcome.success and outcome.message.startswith("Symbol file already exists"), outcome
    assert outcome.calls == [("checkStatus", 200)]

    outcome = wire_clients.sym_upload_v2(base, token, SYMBOLS / CRASH_CLIENT, force=True)
    assert outcome.success and outcome.message.startswith("Uploaded file checksum matched"), outcome
    assert symbols_bucket() == [CRASH_CLIENT]


def test_sym_upload_v2_refuses_bad_keys(collect, symbols_bucket):
    base = f"{collect}/symbols"
    for key, status in (("", 401), ("wrong", 403)):
        outcome = wire_clients.sym_upload_v2(base, key, SYMBOLS / CRASH_CLIENT)
        assert not outcome.success and outcome.calls == [("checkStatus", status)], outcome
        outcome = wire_clients.sym_upload_v2(base, key, SYMBOLS / CRASH_CLIENT, force=True)
        assert not outcome.success and outcome.calls == [("create", status)], outcome
    assert symbols_bucket() == []


def test_sym_upload_v2_complete_must_name_the_uploaded_module(collect, token, symbols_bucket):
    base = f"{collect}/symbols"
    created = requests.post(f"{base}/v1/uploads:create", params={"key": token}, timeout=10).json()
    put = requests.put(created["uploadUrl"], data=(SYMBOLS / CRASH_CLIENT).read_bytes(), timeout=30)
    assert put.status_code == 200, put.text
    body = '{ symbol_id: {debug_file: "null_read_av", debug_id: "7B7D1968FF0D47AE4366E9C3A7E1B6750" }, symbol_upload_type: "BREAKPAD" }'
    answer = requests.post(f"{base}/v1/uploads/{created['uploadKey']}:complete", params={"key": token},
                           data=body, timeout=10)
    assert answer.status_code == 400 and "MODULE line is for crash-client" in answer.json()["error"]
    assert not any(not key.startswith("_uploads/") for key in symbols_bucket())

    unknown = "A" * 32
    answer = requests.post(f"{base}/v1/uploads/{unknown}:complete", params={"key": token}, data=body, timeout=10)
    assert answer.status_code == 404


def test_cli_speaks_sym_upload_v2(collect, token, symbols_bucket):
    args = ["symbols", "upload", str(SYMBOLS), "--protocol", "sym-upload-v2", "--url", f"{collect}/symbols",
            "--token", token]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert sorted(result.output.splitlines()) == sorted(
        f"{key}: OK" for key in (CRASH_CLIENT, NULL_READ, "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym"))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0 and all(line.endswith(": the server has it") for line in result.output.splitlines())
    assert len([key for key in symbols_bucket() if not key.startswith("_uploads/")]) == 3
