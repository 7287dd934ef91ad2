"""The collector's HBase rows, written off the request path.

The row (raw annotations and the submitted-time index) lets a crash be found by id at once,
but it is a convenience: S3 holds the crash, and process writes the row again if it is
missing. So the client's answer does not wait for it. Requests hand their rows to one
background thread, which writes whatever has gathered in one batch per table: under load
that is several crashes per Thrift call instead of two calls per crash, and with HBase slow
or down an upload is no longer held for the HBase timeout. Rows that cannot be written are
dropped with a warning; process writes them.

The thread lingers a moment (``linger`` seconds) after a row comes, for more to join its
batch: measured on the local stack, a batch of one row costs HBase (Thrift server and
region server) 6-9 ms of CPU per row, a batch of ten 1-2 ms per row, as much as the rest of
a crash's storing. A row waits that long before it is found by id in HBase; process does not
need it (it reads the raw crash from S3 when the row is not there yet).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class BackgroundIndexer:
    """``add(crash_id, raw_crash)`` now; ``write_rows([(crash_id, raw_crash), ...])`` soon,
    from a daemon thread started on first use."""

    def __init__(
        self,
        write_rows: Callable[[list[tuple[str, dict]]], None],
        max_batch: int = 100,
        max_pending: int = 10_000,
        linger: float = 0.0,
    ):
        self.write_rows = write_rows
        self.max_batch = max_batch
        self.max_pending = max_pending
        self.linger = linger
        self._pending: list[tuple[str, dict]] = []
        self._writing = False
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, crash_id: str, raw_crash: dict) -> None:
        with self._changed:
            if len(self._pending) >= self.max_pending:
                # HBase has been failing for a while: don't grow without bound.
                log.warning("HBase row of %s dropped (%d waiting); process will write it", crash_id, len(self._pending))
                return
            self._pending.append((crash_id, raw_crash))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="hbase-indexer", daemon=True)
                self._thread.start()
                # A worker that stops cleanly (SIGTERM on scale-down) writes what it holds.
                atexit.register(self.flush, 5)
            self._changed.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until every row added so far is written (or dropped); whether it happened
        within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._pending or self._writing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._pending:
                    self._changed.wait()
                if self.linger:
                    self._changed.wait_for(lambda: len(self._pending) >= self.max_batch, self.linger)
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                self._writing = True
            try:
                self.write_rows(batch)
            except Exception:
                log.warning("HBase unavailable; the rows of %d crash(es) are left to process", len(batch), exc_info=True)
            finally:
                with self._changed:
                    self._writing = False
                    self._changed.notify_all()
