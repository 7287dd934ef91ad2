"""POST /symbols/upload and ``crashflow symbols upload`` against the real collect function,
the real token store (Postgres) and the real symbols bucket."""

from __future__ import annotations

import io
import zipfile

import pytest
import requests
from click.testing import CliRunner

from conftest import DATA, TEST_NAMESPACE, FunctionServer, free_port
from crashflow.cli import main as cli
from crashflow.stores.postgres import Database
from crashflow.stores.boto import boto3_client
from crashflow.tokens import TokenStore

pytestmark = pytest.mark.integration

SYMBOLS = DATA / "symbols"
TEST_APP = "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym"
NULL_READ = "null_read_av/7B7D1968FF0D47AE4366E9C3A7E1B6750/null_read_av.sym"
CRASH_CLIENT = "crash-client/509C0610949836F7B70BD88BCF03E5400/crash-client.sym"


@pytest.fixture(scope="module")
def collect(stack):
    import os

    server = FunctionServer("collect", free_port(), dict(
        os.environ, CRASHFLOW_NAMESPACE=TEST_NAMESPACE, CRASHFLOW_MAX_SYMBOLS_UPLOAD_BYTES=str(2 * 1024 * 1024),
    ))
    try:
        server.wait_ready()
        yield f"{server.url}/symbols/upload"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def tokens(stack):
    return TokenStore(Database(stack))


@pytest.fixture(scope="module")
def token(tokens):
    return tokens.create(["upload_symbols"], note="symbol upload tests")


@pytest.fixture
def bucket(stack):
    """The symbols bucket, emptied before and after each test."""
    s3 = boto3_client(stack, "s3")

    def keys():
        return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=stack.symbols_bucket).get("Contents", []))

    def empty():
        for key in keys():
            s3.delete_object(Bucket=stack.symbols_bucket, Key=key)

    empty()
    yield s3, keys
    empty()


def read(s3, stack, key):
    return s3.get_object(Bucket=stack.symbols_bucket, Key=key)["Body"].read()


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def upload(url, token, name, data):
    headers = {"Auth-Token": token} if token else {}
    return requests.post(url, headers=headers, files={"symbols": (name, data)}, timeout=60)


def test_single_sym_lands_where_process_looks(stack, collect, token, bucket):
    s3, keys = bucket
    data = (SYMBOLS / TEST_APP).read_bytes()
    answer = upload(collect, token, "test_app.sym", data)
    assert answer.status_code == 201, answer.text
    assert answer.json() == [{
        "key": TEST_APP, "debug_file": "test_app.pdb", "debug_id": "5A9832E5287241C1838ED98914E9B7FF1",
        "os": "windows", "arch": "x86", "size": len(data),
    }]
    assert keys() == [TEST_APP] and read(s3, stack, TEST_APP) == data


def test_zip_of_the_tree(stack, collect, token, bucket):
    s3, keys = bucket
    members = {name: (SYMBOLS / name).read_bytes() for name in (TEST_APP, NULL_READ, CRASH_CLIENT)}
    answer = upload(collect, token, "symbols.zip", zipped(members))
    assert answer.status_code == 201, answer.text
    assert [item["key"] for item in answer.json()] == list(members)
    assert keys() == sorted(members)
    assert all(read(s3, stack, name) == data for name, data in members.items())


@pytest.mark.parametrize("name, data, message", [
    ("evil.zip", zipped({"../../" + TEST_APP: (SYMBOLS / TEST_APP).read_bytes()}), "unsafe path"),
    ("mixed.zip", zipped({TEST_APP: (SYMBOLS / TEST_APP).read_bytes(), "run.sh": b"#!/bin/sh"}), "not a .sym file"),
    ("wrong.zip", zipped({"test_app.pdb/0123/test_app.sym": (SYMBOLS / TEST_APP).read_bytes()}), "belongs at"),
    ("big.zip", b"PK" + b"\0" * (3 * 1024 * 1024), "limit"),
    ("notes.txt", b"hello", "neither a .zip archive nor a .sym file"),
    ("broken.sym", b"FILE 0 x.c\n", "does not start with 'MODULE"),
])
def test_bad_uploads_are_refused_with_400_and_store_nothing(collect, token, bucket, name, data, message):
    _, keys = bucket
    answer = upload(collect, token, name, data)
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["error"]
    assert keys() == []


def test_tokens_are_checked(collect, tokens, bucket):
    _, keys = bucket
    data = (SYMBOLS / TEST_APP).read_bytes()
    revoked = tokens.create(["upload_symbols"])
    tokens.revoke(revoked)
    cases = [
        (None, "an Auth-Token header is required"),  # answered with 401
        ("not-a-token", "unknown token"),
        (revoked, "token revoked"),
        (tokens.create(["view_pii", "reprocess_crashes"]), "lacks the upload_symbols permission"),
    ]
    for value, message in cases:
        answer = upload(collect, value, "test_app.sym", data)
        assert answer.status_code == (401 if value is None else 403) and message in answer.json()["error"], answer.text
    assert keys() == []


def test_cli_uploads_a_directory_and_reports_refusals(stack, collect, token, bucket):
    s3, keys = bucket
    result = CliRunner().invoke(cli, ["symbols", "upload", str(SYMBOLS), "--url", collect, "--token", token])
    assert result.exit_code == 0, result.output
    assert sorted(line.split(" ")[0] for line in result.output.splitlines()) == sorted([TEST_APP, NULL_READ, CRASH_CLIENT])
    assert keys() == sorted([TEST_APP, NULL_READ, CRASH_CLIENT])

    result = CliRunner().invoke(cli, ["symbols", "upload", str(SYMBOLS / TEST_APP), "--url", collect,
                                      "--token", "wrong"])
    assert result.exit_code != 0 and "upload refused (403): Auth-Token refused: unknown token" in result.output


@pytest.mark.parametrize("down, message", [
    ("CRASHFLOW_PG_PORT", "the token store is unavailable"),
    ("CRASHFLOW_S3_ENDPOINT_URL", "the symbols bucket is unavailable"),
])
def test_a_store_that_is_down_answers_503(stack, token, down, message):
    import os

    closed = str(free_port())
    value = f"http://127.0.0.1:{closed}" if down.endswith("URL") else closed
    server = FunctionServer("collect", free_port(), dict(os.environ, CRASHFLOW_NAMESPACE=TEST_NAMESPACE, **{down: value}))
    try:
        server.wait_ready()
        answer = upload(f"{server.url}/symbols/upload", token, "test_app.sym", (SYMBOLS / TEST_APP).read_bytes())
    finally:
        server.stop()
    assert answer.status_code == 503, answer.text
    assert message in answer.json()["error"]
