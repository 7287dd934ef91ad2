"""The collector's background HBase writer: batches, failures, flushing, its bound."""

import threading

from crashflow.collector.indexer import BackgroundIndexer


class Rows:
    """Records each batch; blocks while ``gate`` is clear, fails while ``failing``."""

    def __init__(self):
        self.batches: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.writing = threading.Event()
        self.failing = False

    def __call__(self, rows):
        self.writing.set()
        self.gate.wait(10)
        if self.failing:
            raise ConnectionError("HBase is down")
        self.batches.append([crash_id for crash_id, _ in rows])


def test_rows_gathered_while_a_batch_is_written_go_in_one_batch():
    rows = Rows()
    indexer = BackgroundIndexer(rows)
    rows.gate.clear()
    indexer.add("a", {})
    assert rows.writing.wait(10)  # the writer holds "a" while the others come
    for crash_id in "bcd":
        indexer.add(crash_id, {})
    rows.gate.set()
    assert indexer.flush(10)
    assert rows.batches == [["a"], ["b", "c", "d"]]


def test_batches_are_bounded():
    rows = Rows()
    indexer = BackgroundIndexer(rows, max_batch=2)
    rows.gate.clear()
    for crash_id in "abcde":
        indexer.add(crash_id, {})
    rows.gate.set()
    assert indexer.flush(10)
    assert all(len(batch) <= 2 for batch in rows.batches)
    assert sorted(crash_id for batch in rows.batches for crash_id in batch) == list("abcde")


def test_a_failed_batch_is_dropped_and_the_next_ones_are_written(caplog):
    rows = Rows()
    indexer = BackgroundIndexer(rows)
    rows.failing = True
    indexer.add("lost", {})
    assert indexer.flush(10)
    rows.failing = False
    indexer.add("kept", {})
    assert indexer.flush(10)
    assert rows.batches == [["kept"]]
    assert "left to process" in caplog.text


def test_pending_rows_are_bounded_while_hbase_hangs(caplog):
    rows = Rows()
    indexer = BackgroundIndexer(rows, max_batch=1, max_pending=2)
    rows.gate.clear()
    indexer.add("writing", {})
    assert rows.writing.wait(10) and not indexer.flush(0.2)  # the first batch hangs
    for crash_id in ("a", "b", "c"):
        indexer.add(crash_id, {})
    assert "HBase row of c dropped" in caplog.text
    rows.gate.set()
    assert indexer.flush(10)
    assert rows.batches == [["writing"], ["a"], ["b"]]


def test_with_a_linger_rows_added_soon_after_the_first_go_in_its_batch():
    rows = Rows()
    # A linger far longer than the test: the batch is written once it is full.
    indexer = BackgroundIndexer(rows, max_batch=3, linger=60)
    indexer.add("a", {})
    indexer.add("b", {})
    assert not rows.writing.wait(0.3)  # "a" waits for company
    indexer.add("c", {})
    assert indexer.flush(10)
    assert rows.batches == [["a", "b", "c"]]


def test_a_lingering_batch_is_written_when_the_linger_ends():
    rows = Rows()
    indexer = BackgroundIndexer(rows, max_batch=100, linger=0.05)
    indexer.add("alone", {})
    assert indexer.flush(10)
    assert rows.batches == [["alone"]]
