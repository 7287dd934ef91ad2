"""CrashLocks: runs for one crash id take turns; other crash ids do not wait; nothing is
kept once a crash id's runs are over."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from crashflow.processor.service import CrashLocks


def test_runs_for_one_crash_id_take_turns_and_others_do_not_wait():
    locks, inside, overlaps = CrashLocks(), {"a": 0, "b": 0}, []
    guard = threading.Lock()

    def run(crash_id):
        with locks.holding(crash_id):
            with guard:
                inside[crash_id] += 1
                overlaps.append(dict(inside))
            time.sleep(0.05)
            with guard:
                inside[crash_id] -= 1

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(run, ["a", "b"] * 8))
    assert max(seen["a"] for seen in overlaps) == 1
    assert max(seen["b"] for seen in overlaps) == 1
    assert any(seen["a"] and seen["b"] for seen in overlaps)  # a and b side by side
    assert locks._locks == {}


def test_a_run_that_raises_lets_the_next_one_in():
    locks = CrashLocks()
    with pytest.raises(ValueError):
        with locks.holding("a"):
            raise ValueError("boom")
    assert locks._locks == {}
    entered = threading.Event()

    def run():
        with locks.holding("a"):
            entered.set()

    threading.Thread(target=run, daemon=True).start()
    assert entered.wait(2)
