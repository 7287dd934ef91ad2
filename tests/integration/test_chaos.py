"""The small chaos run (tests/bench/chaos.py): a few hundred crashes through a `make up`
stack of its own while each part is killed once (and the S3 server stopped for a while),
then a check that every accepted crash is stored, processed exactly once and searchable.
The 10,000-crash run is the figure in the README."""

import json
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.integration


def test_small_chaos_run_loses_nothing():
    done = subprocess.run(
        [sys.executable, str(REPO / "tests" / "bench" / "chaos.py"), "--crashes", "300", "--rate", "3",
         "--rounds", "1", "--stop-seconds", "20", "--drain-timeout", "600"],
        capture_output=True, text=True, timeout=3000,
    )
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    assert report, done.stdout[-3000:] + done.stderr[-5000:]
    assert report["lost"] == 0, report
    assert report["processed_twice"] == 0, report
    assert report["drained"] and report["left_in_dead_letter_queue"] == 0, report
    assert report["accepted"] == report["sent"] == 300, report
    # Every kind of fault ran, each followed by `make up`.
    faults = {item["fault"] for item in report["fault_schedule"]}
    assert len(faults) == 9 and not any("error" in item for item in report["fault_schedule"]), \
        json.dumps(report["fault_schedule"])
    assert done.returncode == 0, report
