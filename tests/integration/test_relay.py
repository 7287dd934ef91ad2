"""The relay's delivery contract on real SQS (moto): delete on 2xx only; failed messages
come back after a short backoff and land in the dead-letter queue after N tries; during an
outage nothing is received (no tries used up), and once process is back what failed in the
outage goes first; a message held by a killed relay comes back after the lease."""

import threading
import time
import uuid
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
    """A stand-in process endpoint that answers every POST with ``status`` (after ``delay``
    seconds; None: closes the connection without an answer) and records bodies; its
    ``/__heartbeat__`` answers ``health``."""

    def __init__(self, status: int, health: int = 200, delay: float = 0):
        received = self.received = []
        self.status, self.health = status, health
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                received.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
                time.sleep(delay)
                if peer.status is None:  # no answer: the connection is closed
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.send_response(peer.status)
                self.end_headers()

            def do_GET(self):  # noqa: N802
                self.send_response(peer.health)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()


@pytest.fixture
def relay_settings():
    """Queues of the test's own, deleted after it: a message a test leaves in flight (for up
    to its 120 s visibility timeout) cannot turn up in a later test or a second run soon after,
    and no test needs PurgeQueue (once a minute a queue)."""
    settings = Settings(namespace=f"{TEST_NAMESPACE}relay-{uuid.uuid4().hex[:8]}",
                        queue_visibility_timeout=1, queue_max_receives=2)
    queues = CrashQueues(settings)
    queues.ensure_queues()
    yield settings
    for kind in (*QUEUE_KINDS, DEAD_LETTER):
        queues.sqs.delete_queue(QueueUrl=queues.url(kind))


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
        # queue_max_receives receives, then dead; each receive's 503 (process healthy) is tried
        # once more at once
        assert peer.received.count("doomed") == 4
        assert queues.count(DEAD_LETTER) == 1
    finally:
        peer.close()

    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    result = CliRunner().invoke(cli.main, ["dlq", "redrive"])
    assert result.exit_code == 0, result.output
    assert "moved 1 message" in result.output
    assert queues.count(DEAD_LETTER) == 0
    redriven = queues.receive("standard", wait_seconds=2)
    assert [m.body for m in redriven] == ["doomed"]
    queues.delete_many(redriven)


def test_a_failed_delivery_comes_back_after_a_short_backoff(relay_settings):
    peer = Peer(500)
    try:
        # The queue's own visibility timeout is long: only the relay's backoff brings it back.
        settings = relay_settings.model_copy(update={"process_url": peer.url, "queue_max_receives": 5})
        queues = CrashQueues(settings)
        queues.sqs.set_queue_attributes(QueueUrl=queues.url("standard"), Attributes={"VisibilityTimeout": "120"})
        queues.publish("standard", "flaky")
        relay = Relay(settings)
        try:
            assert relay.drain_once() == 0 and peer.received == ["flaky"]
            peer.status = 200
            deadline = time.monotonic() + 10  # 1 s backoff after the first try
            while not relay.drain_once():
                assert time.monotonic() < deadline, "not retried within 10 s"
                time.sleep(0.2)
        finally:
            relay.close()
        assert peer.received == ["flaky", "flaky"] and queues.count("standard") == 0
    finally:
        peer.close()


def test_an_outage_uses_up_no_tries_and_ends_in_prompt_delivery(relay_settings):
    peer = Peer(503, health=503)
    try:
        settings = relay_settings.model_copy(update={"process_url": peer.url})  # 2 receives, then dead
        queues = CrashQueues(settings)
        for body in ("a", "b", "c"):
            queues.publish("standard", body)
        relay = Relay(settings)
        try:
            relay.drain_once()  # the first failure: process says a store is down
            assert relay.outage
            for _ in range(10):  # however long the outage lasts, nothing more is received
                assert relay.drain_once() == 0
                time.sleep(0.3)
            assert len(peer.received) == relay.batch_size
            peer.status = peer.health = 200  # the store is back
            delivered, deadline = 0, time.monotonic() + 10
            while delivered < 3:
                assert time.monotonic() < deadline, f"{delivered} of 3 delivered 10 s after the outage"
                delivered += relay.drain_once()
                time.sleep(0.2)
        finally:
            relay.close()
        assert sorted(set(peer.received)) == ["a", "b", "c"]
        assert queues.count(DEAD_LETTER) == 0
    finally:
        peer.close()


def test_crashes_that_failed_in_an_outage_go_first_once_process_is_back(relay_settings):
    peer = Peer(503, health=503)
    try:
        # The backoff and the queue's visibility timeout long, the lease short: only holding
        # the failed messages (leases extended) brings them back at once, and first.
        settings = relay_settings.model_copy(update={
            "process_url": peer.url, "relay_lease_seconds": 3, "relay_retry_seconds": 60, "relay_retry_max_seconds": 60,
        })
        queues = CrashQueues(settings)
        queues.sqs.set_queue_attributes(QueueUrl=queues.url("standard"), Attributes={"VisibilityTimeout": "120"})
        for body in ("failed-1", "failed-2"):
            queues.publish("standard", body)
        relay = Relay(settings)
        try:
            relay.drain_once()
            assert relay.outage and sorted(peer.received) == ["failed-1", "failed-2"]
            for body in ("later-1", "later-2", "later-3"):  # queued while process is down
                queues.publish("standard", body)
            for _ in range(10):  # 5 s, longer than the lease: the held messages stay in flight
                assert relay.drain_once() == 0
                time.sleep(0.5)
            assert queues.counts("standard") == (3, 2)
            peer.status = peer.health = 200
            assert relay.drain_once() == 2
            assert sorted(peer.received[2:]) == ["failed-1", "failed-2"]
            while relay.drain_once():
                pass
        finally:
            relay.close()
        assert sorted(peer.received[4:]) == ["later-1", "later-2", "later-3"]
        assert queues.count("standard") == 0 and queues.count(DEAD_LETTER) == 0
    finally:
        peer.close()


def blip_settings(relay_settings, peer):
    """A long backoff and visibility timeout: only a retry at once brings a message back soon."""
    settings = relay_settings.model_copy(update={
        "process_url": peer.url, "relay_retry_seconds": 60, "relay_retry_max_seconds": 60,
    })
    queues = CrashQueues(settings)
    queues.sqs.set_queue_attributes(QueueUrl=queues.url("standard"), Attributes={"VisibilityTimeout": "120"})
    return settings, queues


# No answer while the heartbeat answers 200: say, a worker killed and replaced. A 503 while
# process is healthy again: the 10,000-crash chaos run, where HBase came back just as a
# delivery timed out on it (the heartbeat 200 a moment later); after the backoff it had
# waited behind the outage's backlog.
@pytest.mark.parametrize("first_answer", [None, 503], ids=["no answer", "503"])
def test_a_failure_while_process_is_healthy_is_retried_at_once_and_first(relay_settings, first_answer):
    peer = Peer(first_answer)
    try:
        settings, queues = blip_settings(relay_settings, peer)
        for body in ("blip", "later"):
            queues.publish("standard", body)
        relay = Relay(settings, workers=1)
        try:
            assert relay.drain_once() == 0 and not relay.outage
            peer.status = 200
            assert relay.drain_once() == 1 and peer.received == ["blip", "blip"]
            assert relay.drain_once() == 1 and peer.received[2] == "later"
        finally:
            relay.close()
    finally:
        peer.close()


def test_a_blip_is_retried_at_once_only_once(relay_settings):
    peer = Peer(None)
    try:
        settings, queues = blip_settings(relay_settings, peer)
        queues.publish("standard", "poison")
        relay = Relay(settings, workers=1)
        try:
            assert relay.drain_once() == 0 and relay.drain_once() == 0
            assert peer.received == ["poison", "poison"] and relay.held == []
            assert relay.drain_once() == 0 and len(peer.received) == 2  # now after the backoff
        finally:
            relay.close()
    finally:
        peer.close()


def test_a_relay_stopped_in_an_outage_hands_its_held_messages_back_at_once(relay_settings):
    peer = Peer(503, health=503)
    try:
        settings = relay_settings.model_copy(update={"process_url": peer.url, "relay_lease_seconds": 30})
        queues = CrashQueues(settings)
        queues.publish("standard", "held")
        relay = Relay(settings)
        try:
            relay.drain_once()
            assert [message.body for message in relay.held] == ["held"]
        finally:
            relay.close()
        assert [message.body for message in queues.receive("standard", wait_seconds=1)] == ["held"]
    finally:
        peer.close()


def test_a_long_delivery_keeps_its_lease_and_a_dead_relays_lease_runs_out(relay_settings):
    peer = Peer(200, delay=5)
    try:
        settings = relay_settings.model_copy(update={"process_url": peer.url, "relay_lease_seconds": 3})
        queues = CrashQueues(settings)
        queues.sqs.set_queue_attributes(QueueUrl=queues.url("standard"), Attributes={"VisibilityTimeout": "120"})
        queues.publish("standard", "slow")
        relay = Relay(settings)
        try:
            # Delivery takes 5 s against a 3 s lease: extended meanwhile, nobody else gets it.
            result = []
            worker = threading.Thread(target=lambda: result.append(relay.drain_once()))
            worker.start()
            time.sleep(4)
            assert queues.receive("standard", visibility_seconds=3) == []
            worker.join()
            assert result == [1] and peer.received == ["slow"]
        finally:
            relay.close()
        # A relay that dies holding a message (received, never deleted) loses it to others
        # after its lease, not after the queue's 120 s visibility timeout.
        queues.publish("standard", "orphan")
        assert [m.body for m in queues.receive("standard", visibility_seconds=3)] == ["orphan"]
        time.sleep(3.5)
        assert [m.body for m in queues.receive("standard")] == ["orphan"]
    finally:
        peer.close()
