import threading
import time

import pytest

from crashflow.collector.publisher import BatchPublisher, PublishFailed


def test_a_lone_publish_is_sent_at_once():
    calls = []
    BatchPublisher(lambda ids: calls.append(ids) or []).publish("a")
    assert calls == [["a"]]


def test_concurrent_publishes_share_batches_and_each_id_is_sent_once():
    calls, lock = [], threading.Lock()

    def send(ids):
        with lock:
            calls.append(list(ids))
        time.sleep(0.02)  # a queue call in flight: others pile up meanwhile
        return []

    publisher = BatchPublisher(send)
    ids = [f"id{i}" for i in range(40)]
    threads = [threading.Thread(target=publisher.publish, args=(crash_id,)) for crash_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads)
    sent = [crash_id for call in calls for crash_id in call]
    assert sorted(sent) == sorted(ids)
    assert all(1 <= len(call) <= 10 for call in calls)
    assert len(calls) < len(ids)


def test_failures_reach_exactly_their_callers():
    publisher = BatchPublisher(lambda ids: [crash_id for crash_id in ids if crash_id.startswith("bad")])
    publisher.publish("good")
    with pytest.raises(PublishFailed, match="bad1: refused by the queue"):
        publisher.publish("bad1")

    def broken(ids):
        raise ConnectionError("queue down")

    with pytest.raises(PublishFailed, match="queue down"):
        BatchPublisher(broken).publish("x")
