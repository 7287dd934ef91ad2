"""What the chaos run (tests/bench/chaos.py) reads from the stack's logs."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import chaos  # noqa: E402

PROCESSED = "20a07925-e676-41b7-abcc-651720261130"
DROPPED = "5772c688-4604-4a1c-bbba-c6f890261130"
PROCESS_LOG = (
    f"2026-11-30 22:28:46,528 WARNING crashflow.process: processing {DROPPED} (collector) failed "
    "(hbase: TimeoutError: timed out); the queue will redeliver it\n"
    f"2026-11-30 22:30:46,334 INFO crashflow.processor.service: processed {PROCESSED} (default): test_app.exe\n"
    f"2026-11-30 22:30:48,147 INFO crashflow.processor.service: {DROPPED} is processed already; message dropped\n"
)


def test_a_redelivery_that_finds_its_crash_processed_settles_it_without_counting_as_a_processing(tmp_path):
    log = tmp_path / "process.log"
    log.write_text(PROCESS_LOG)
    assert set(chaos.log_times(log, chaos.PROCESSED_LINE)) == {PROCESSED}
    settled = chaos.log_times(log, chaos.SETTLED_LINE)
    assert set(settled) == {PROCESSED, DROPPED}
    # Its delivery failed during an outage; the part came back 20 s before the redelivery.
    failed = {DROPPED: [settled[DROPPED][0] - 30]}
    outages = [(failed[DROPPED][0] - 50, settled[DROPPED][0] - 20)]
    assert chaos.waits_after_return(failed, settled, outages) == [20.0]
    assert chaos.waits_after_return(failed, chaos.log_times(log, chaos.PROCESSED_LINE), outages) == []
