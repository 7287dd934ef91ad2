"""The collector's queue publishes: retries of refused ids, and short timeouts."""

from crashflow.collector.submit import Collector
from crashflow.settings import Settings
from crashflow.stores.factory import Stores


class PartlyRefusingQueue:
    """Refuses every id the first ``refusals`` times it sees it, then takes it."""

    def __init__(self, refusals: int):
        self.refusals = refusals
        self.calls: list[list[str]] = []

    def publish_batch(self, kind: str, bodies: list[str]) -> list[str]:
        self.calls.append(list(bodies))
        return [body for body in bodies if body.startswith("refused") and self.seen(body) <= self.refusals]

    def seen(self, body: str) -> int:
        return sum(call.count(body) for call in self.calls)


def collector(queue) -> Collector:
    return Collector(Settings(), Stores(Settings(), "collector", queues=queue))


def test_refused_ids_are_sent_again_and_only_they():
    queue = PartlyRefusingQueue(refusals=1)
    assert collector(queue)._send_batch(["a", "refused1", "b"]) == []
    assert queue.calls == [["a", "refused1", "b"], ["refused1"]]


def test_ids_still_refused_after_the_last_try_are_reported():
    queue = PartlyRefusingQueue(refusals=5)
    assert collector(queue)._send_batch(["a", "refused1"]) == ["refused1"]
    assert queue.calls == [["a", "refused1"], ["refused1"], ["refused1"]]


def test_the_collector_queue_client_gives_up_quickly():
    settings = Settings(collector_sqs_connect_timeout=0.5, collector_sqs_read_timeout=1.5,
                        collector_sqs_max_attempts=2)
    sender = Collector(settings).stores.queues.sender
    assert (sender.connect_timeout_ms, sender.timeout_ms, sender.attempts) == (500, 2000, 2)
    defaults = Collector(Settings()).stores.queues.sender
    # Three tries of the collector's own, each within its timeout: a few seconds at most.
    assert defaults.timeout_ms / 1000 * defaults.attempts * 3 <= 10
