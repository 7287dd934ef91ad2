"""Bad input, store failures and concurrency in the query API (pure logic, no services)."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import Future

import pg8000.native
import pytest
from werkzeug.datastructures import MultiDict

from crashflow.api.calls import date_param
from crashflow.api.calls import refuse_nul_bytes
from crashflow.api.errors import BadRequest
from crashflow.api.priority import PriorityProcessing
from crashflow.api.reprocessing import publish_all
from crashflow.api.supersearch import parse_value
from crashflow.settings import Settings
from crashflow.stores import postgres
from crashflow.stores.errors import QueryFailed, StoreUnavailable
from crashflow.ttlcache import TtlCache


@pytest.mark.parametrize("params", [
    MultiDict([("signature", "a\x00b")]),
    MultiDict([("product", "x"), ("product", "\x00")]),
    MultiDict([("sig\x00nature", "a")]),
])
def test_a_nul_byte_anywhere_is_refused(params):
    with pytest.raises(BadRequest, match="NUL"):
        refuse_nul_bytes(MultiDict(), params)


def test_values_without_nul_bytes_pass():
    refuse_nul_bytes(MultiDict([("signature", "@0x0 | foo"), ("date", ">=2026-11-01")]))


@pytest.mark.parametrize("raw", [">=9999-12-31T23:59:59-14:00", "<0001-01-01T00:00:00+14:00"])
def test_dates_that_do_not_fit_in_utc_are_refused(raw):
    with pytest.raises(BadRequest, match="out of range"):
        parse_value("date_processed", raw)


@pytest.mark.parametrize("raw", ["0001-01-01", "9999-12-31"])
def test_aggregate_dates_out_of_range_are_refused(raw):
    with pytest.raises(BadRequest, match="within"):
        date_param(MultiDict([("to_date", raw)]), "to_date", dt.date(2026, 11, 26))


def postgres_error(error: Exception) -> Exception:
    """What the stores make of ``error`` raised by pg8000 on a pooled connection."""
    with pytest.raises((QueryFailed, StoreUnavailable)) as raised:
        with postgres.translated_errors():
            raise error
    return raised.value


def test_postgres_data_exceptions_are_bad_values():
    for code, message in (("22021", "invalid byte sequence"), ("22003", "integer out of range")):
        error = postgres_error(pg8000.native.DatabaseError({"C": code, "M": message}))
        assert isinstance(error, QueryFailed) and error.is_bad_value and error.message == message
    error = postgres_error(pg8000.native.DatabaseError({"C": "42P01", "M": "no such table"}))
    assert isinstance(error, QueryFailed) and not error.is_bad_value and error.sqlstate == "42P01"


@pytest.mark.parametrize("error", [
    pg8000.native.InterfaceError("network error"),
    ConnectionResetError("reset by peer"),
    pg8000.native.DatabaseError({"C": "57P01", "M": "terminating connection due to administrator command"}),
    pg8000.native.DatabaseError({"C": "53300", "M": "too many connections"}),
])
def test_postgres_outages_are_store_unavailable(error):
    unavailable = postgres_error(error)
    assert isinstance(unavailable, StoreUnavailable) and unavailable.store == "postgres"


class BatchQueue:
    """Takes batches; refuses the bodies in ``refuse``; raises from batch ``fail_at`` on."""

    def __init__(self, refuse=(), fail_at=None):
        self.refuse = set(refuse)
        self.fail_at = fail_at
        self.batches = []

    def publish_batch(self, kind, bodies):
        assert kind == "reprocessing" and len(bodies) <= 10
        if self.fail_at is not None and len(self.batches) >= self.fail_at:
            raise StoreUnavailable("sqs", "queue down")
        self.batches.append(list(bodies))
        return [body for body in bodies if body in self.refuse]


MESSAGES = [f"id{n}" for n in range(25)]


def test_reprocessing_is_queued_ten_at_a_time():
    queue = BatchQueue()
    assert publish_all(queue, MESSAGES) == (MESSAGES, [])
    assert [len(batch) for batch in queue.batches] == [10, 10, 5]


def test_a_partial_failure_says_what_was_queued_and_what_was_not():
    queue = BatchQueue(refuse={"id3"}, fail_at=2)
    queued, not_queued = publish_all(queue, MESSAGES)
    assert queued == [m for m in MESSAGES[:20] if m != "id3"]
    assert not_queued == ["id3", *MESSAGES[20:]]


class DoneExecutor:
    """Runs nothing: every submitted job is already done, as a very fast one would be."""

    def submit(self, fn, *args):
        future = Future()
        future.set_result({"uuid": args[0]})
        return future


def test_priority_processing_of_an_already_done_job_does_not_deadlock():
    priority = PriorityProcessing(Settings(), queues=None, workers=1)
    priority.executor = DoneExecutor()
    answers = []
    worker = threading.Thread(target=lambda: answers.append(priority.process("c1")), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "process() deadlocked on its own lock"
    assert answers == [{"uuid": "c1"}] and priority._in_flight == {}


def test_concurrent_misses_of_one_key_compute_once():
    cache = TtlCache(60)
    calls, started, release, second_computing = [], threading.Event(), threading.Event(), threading.Event()

    def slow():
        calls.append("slow")
        started.set()
        release.wait(10)
        return "value"

    def fast():
        calls.append("fast")
        second_computing.set()
        return "other"

    answers = {}
    first = threading.Thread(target=lambda: answers.setdefault("first", cache.get_or_compute("k", slow)))
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=lambda: answers.setdefault("second", cache.get_or_compute("k", fast)))
    second.start()
    # Without a per-key lock the second caller computes at once; with it, it waits.
    second_computing.wait(0.5)
    release.set()
    first.join(10)
    second.join(10)
    assert calls == ["slow"] and answers == {"first": "value", "second": "value"}
    assert cache.get_or_compute("other key", lambda: 1) == 1
