"""The collector's queue publishes: one retry layer (the queue sender's), for transient
failures only, and short timeouts."""

import json

import pytest

from crashflow.collector.submit import Collector
from crashflow.settings import Settings
from crashflow.stores.awshttp import AwsRequestFailed, AwsResponse, SignedHttp
from crashflow.stores.factory import Stores
from crashflow.stores.sqs import CrashQueues

SETTINGS = Settings(namespace="queuetest")


class FakeSqs(SignedHttp):
    """Answers SendMessageBatch as SQS does: bodies starting with "refused" are refused for
    now (``SenderFault`` false) the first ``refusals`` times they are sent, bodies starting
    with "malformed" always, as the sender's fault; ``statuses`` are answered first."""

    def __init__(self, refusals: int = 0, statuses: tuple[int, ...] = ()):
        super().__init__(SETTINGS, "sqs", attempts=3)
        self.refusals = refusals
        self.statuses = list(statuses)
        self.calls: list[list[str]] = []

    def _send(self, method, url, body, headers):
        if self.statuses:
            self.calls.append([])
            return AwsResponse("sqs", self.statuses.pop(0), b"{}")
        entries = json.loads(body)["Entries"]
        bodies = [entry["MessageBody"] for entry in entries]
        self.calls.append(bodies)
        failed = [
            {"Id": entry["Id"], "SenderFault": entry["MessageBody"].startswith("malformed"), "Code": "x"}
            for entry in entries
            if entry["MessageBody"].startswith("malformed")
            or (entry["MessageBody"].startswith("refused") and self.seen(entry["MessageBody"]) <= self.refusals)
        ]
        return AwsResponse("sqs", 200, json.dumps({"Failed": failed}).encode())

    def seen(self, body: str) -> int:
        return sum(call.count(body) for call in self.calls)


def queues(sender: FakeSqs) -> CrashQueues:
    crash_queues = CrashQueues(SETTINGS, sender=sender)
    crash_queues._urls["standard"] = "http://sqs.test/standard"  # no GetQueueUrl
    return crash_queues


def test_entries_refused_for_now_are_sent_again_and_only_they():
    sender = FakeSqs(refusals=1)
    assert queues(sender).publish_batch("standard", ["a", "refused1", "b"]) == []
    assert sender.calls == [["a", "refused1", "b"], ["refused1"]]


def test_entries_still_refused_after_the_last_try_are_reported():
    sender = FakeSqs(refusals=5)
    assert queues(sender).publish_batch("standard", ["a", "refused1"]) == ["refused1"]
    assert sender.calls == [["a", "refused1"], ["refused1"], ["refused1"]]


def test_entries_refused_as_the_senders_fault_are_not_sent_again():
    sender = FakeSqs()
    assert queues(sender).publish_batch("standard", ["a", "malformed1"]) == ["malformed1"]
    assert sender.calls == [["a", "malformed1"]]


def test_transient_failures_are_tried_again_and_others_not():
    sender = FakeSqs(statuses=(503, 500))
    assert queues(sender).publish_batch("standard", ["a"]) == []
    assert sender.calls == [[], [], ["a"]]
    sender = FakeSqs(statuses=(400,))
    with pytest.raises(AwsRequestFailed) as failed:
        queues(sender).publish_batch("standard", ["a"])
    assert failed.value.status == 400 and len(sender.calls) == 1


def test_the_collector_publishes_through_the_queue_alone():
    sender = FakeSqs(refusals=1)
    collector = Collector(SETTINGS, Stores(SETTINGS, "collector", queues=queues(sender)))
    collector.publisher.publish("refused1")  # no error: taken at the second try
    assert sender.calls == [["refused1"], ["refused1"]]


def test_the_collector_queue_client_gives_up_quickly():
    settings = Settings(collector_sqs_connect_timeout=0.5, collector_sqs_read_timeout=1.5,
                        collector_sqs_max_attempts=2)
    sender = Collector(settings).stores.queues.sender
    assert (sender.connect_timeout_ms, sender.timeout_ms, sender.attempts) == (500, 2000, 2)
    defaults = Collector(Settings()).stores.queues.sender
    # One layer of tries, each within its timeout: a few seconds at most, as before.
    assert defaults.timeout_ms / 1000 * defaults.attempts <= 10
