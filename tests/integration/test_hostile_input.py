"""Hostile input against the collect and query functions over HTTP: a client that stalls
mid-body is answered within the read timeout, and small runs of the fuzz benchmarks
(tests/bench/fuzz_*.py; the 100,000-request runs are the figures in the README) find no
500, no hang and no correct crash lost, with the worker's memory under its bound."""

import http.client
import json
import os
import socket
import subprocess
import sys

import pytest

from conftest import REPO, TEST_NAMESPACE, FunctionServer, free_port

pytestmark = pytest.mark.integration
BENCH = REPO / "tests" / "bench"


@pytest.fixture
def collect_with_short_read_timeout(stack):
    server = FunctionServer("collect", free_port(), dict(
        os.environ, CRASHFLOW_NAMESPACE=TEST_NAMESPACE, CRASHFLOW_COLLECTOR_READ_TIMEOUT="1"))
    server.wait_ready()
    yield server
    server.stop()


def test_a_stalled_upload_is_answered_within_the_read_timeout(collect_with_short_read_timeout):
    head = (b"POST /submit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n\r\n--b\r\n")
    # Without the read timeout the worker would wait for the body for ever: this socket's
    # own timeout (far above the collector's 1 s, plus its drain) turns that into a failure.
    with socket.create_connection(("127.0.0.1", collect_with_short_read_timeout.port), timeout=20) as sock:
        sock.sendall(head)  # ... and nothing more
        # Read as HTTP: the head and the body may come in separate segments.
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        body = answer.read()
    assert answer.status == 400, (answer.status, body)
    assert body == b"Discarded=malformed_timeout"


@pytest.mark.parametrize("script", ["fuzz_collect.py", "fuzz_query.py"])
def test_small_fuzz_run(stack, script):
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--requests", "300", "--timeout", "60",
         "--namespace", f"{TEST_NAMESPACE}fz"],
        capture_output=True, text=True, timeout=900,
        env=dict(os.environ, CRASHFLOW_COLLECTOR_READ_TIMEOUT="3"),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["requests"] >= 300
    assert "500" not in report["answers_by_status"] and "hang" not in report["answers_by_status"]
