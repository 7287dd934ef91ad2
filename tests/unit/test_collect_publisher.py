import threading
import time

import pytest

from crashflow.collector.publisher import BatchPublisher, PublishFailed, Republisher


def test_a_lone_publish_is_sent_at_once():
    calls = []
    BatchPublisher(lambda ids: calls.append(ids) or []).publish("a")
    assert calls == [["a"]]


def test_concurrent_publishes_share_batches_and_each_id_is_sent_once():
    calls, lock = [], threading.Lock()
    release = threading.Event()

    def send(ids):
        with lock:
            calls.append(list(ids))
        release.wait(10)  # a queue call in flight until every other publisher waits
        return []

    publisher = BatchPublisher(send)
    ids = [f"id{i}" for i in range(40)]
    first = threading.Thread(target=publisher.publish, args=(ids[0],))
    first.start()
    wait_until(lambda: len(calls) == 1)
    threads = [threading.Thread(target=publisher.publish, args=(crash_id,)) for crash_id in ids[1:]]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(publisher._waiting) == len(ids) - 1)
    release.set()
    for thread in [first, *threads]:
        thread.join(10)
    assert not any(thread.is_alive() for thread in [first, *threads])
    sent = [crash_id for call in calls for crash_id in call]
    assert sorted(sent) == sorted(ids)
    assert all(1 <= len(call) <= 10 for call in calls)
    # The first call, then the 39 that waited meanwhile, ten at a time.
    assert [len(call) for call in calls] == [1, 10, 10, 10, 9]


def wait_until(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_failures_reach_exactly_their_callers():
    publisher = BatchPublisher(lambda ids: [crash_id for crash_id in ids if crash_id.startswith("bad")])
    publisher.publish("good")
    with pytest.raises(PublishFailed, match="bad1: refused by the queue"):
        publisher.publish("bad1")

    def broken(ids):
        raise ConnectionError("queue down")

    with pytest.raises(PublishFailed, match="queue down"):
        BatchPublisher(broken).publish("x")


def test_republisher_publishes_what_the_queue_refused_once_it_is_back():
    sent, lock = [], threading.Lock()
    down = threading.Event()
    down.set()

    def send(ids):
        if down.is_set():
            raise ConnectionError("queue down")
        with lock:
            sent.extend(ids)
        return ids[:1] if len(sent) == len(ids) and len(ids) > 1 else []  # refuses one id once

    republisher = Republisher(send, first_wait=0.05, max_wait=0.2)
    ids = [f"id{i}" for i in range(25)]
    for crash_id in ids:
        assert republisher.add(crash_id)
    time.sleep(0.5)
    assert sent == [] and republisher.pending() == 25  # kept while the queue is down
    down.clear()
    wait_until(lambda: republisher.pending() == 0)
    assert sorted(set(sent)) == sorted(ids)


def test_republisher_is_bounded():
    release = threading.Event()
    republisher = Republisher(lambda ids: release.wait(10) and [], max_pending=3)
    assert republisher.add("id0")
    wait_until(lambda: republisher.pending() == 0)  # id0 is being sent (and the send hangs)
    assert all(republisher.add(f"id{i}") for i in range(1, 4))
    assert not republisher.add("id4")  # left for `crashflow recover`
    release.set()
    wait_until(lambda: republisher.pending() == 0)
