"""The relay's delivery contract on real SQS (moto): delete on 2xx only; failed messages
come back after the visibility timeout and land in the dead-letter queue after N tries."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from conftest import TEST_NAMESPACE
from crashflow import cli
from crashflow.relay import Relay
from crashflow.settings import Settings
from crashflow.stores.sqs import DEAD_LETTER, QUEUE_KINDS, CrashQueues

pytestmark = pytest.mark.integration


class Peer:
    """A stand-in process endpoint that answers every POST with ``status`` and records bodies."""

    def __init__(self, status: int):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                received.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()


@pytest.fixture
def relay_settings(monkeypatch):
    settings = Settings(namespace=f"{TEST_NAMESPACE}relay", queue_visibility_timeout=1, queue_max_receives=2)
    queues = CrashQueues(settings)
    queues.ensure_queues()
    for kind in (*QUEUE_KINDS, DEAD_LETTER):
        while messages := queues.receive(kind, max_messages=10):
            for message in messages:
                queues.delete(message)
    return settings


def test_priority_queue_is_drained_first_and_2xx_deletes(relay_settings):
    peer = Peer(200)
    try:
        settings = relay_settings.model_copy(update={"process_url": peer.url})
        queues = CrashQueues(settings)
        queues.publish("reprocessing", "third")
        queues.publish("standard", "second")
        queues.publish("priority", "first")
        relay = Relay(settings)
        try:
            while relay.drain_once():
                pass
        finally:
            relay.close()
        assert peer.received == ["first", "second", "third"]
        assert all(queues.count(kind) == 0 for kind in QUEUE_KINDS)
    finally:
        peer.close()


def test_failures_are_retried_then_dead_lettered_then_redriven(relay_settings, monkeypatch):
    peer = Peer(503)
    try:
        settings = relay_settings.model_copy(update={"process_url": peer.url})
        queues = CrashQueues(settings)
        queues.publish("standard", "doomed")
        relay = Relay(settings)
        try:
            deadline = time.monotonic() + 20
            while queues.count(DEAD_LETTER) == 0 and time.monotonic() < deadline:
                relay.drain_once()
                time.sleep(0.3)
        finally:
            relay.close()
        assert peer.received.count("doomed") == 2  # queue_max_receives tries, then dead
        assert queues.count(DEAD_LETTER) == 1
    finally:
        peer.close()

    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    result = CliRunner().invoke(cli.main, ["dlq", "redrive"])
    assert result.exit_code == 0, result.output
    assert "moved 1 message" in result.output
    assert queues.count(DEAD_LETTER) == 0
    assert [m.body for m in queues.receive("standard", wait_seconds=2)] == ["doomed"]
