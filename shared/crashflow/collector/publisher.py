"""Publishing accepted crash ids, several requests to one queue call.

A SendMessage costs the collector about 2.5 ms of CPU (botocore), as much as the rest of a
crash. Requests that reach the queue at the same time share one SendMessageBatch instead:
a waiting request whose id is not sent yet, and finds no batch in flight, sends the oldest
ten waiting ids (its own among them, sooner or later); the others wait for their answer.
No request waits for a timer, and each still returns only after its own id was sent, or
failed after retries.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_BATCH = 10  # SQS's limit for SendMessageBatch
log = logging.getLogger(__name__)


class PublishFailed(Exception):
    """The queue did not take the crash id."""


@dataclass
class _Waiting:
    crash_id: str
    done: bool = False
    error: Exception | None = None


class BatchPublisher:
    """``publish(crash_id)`` through ``send_batch(ids) -> ids that failed``."""

    def __init__(self, send_batch: Callable[[list[str]], list[str]], max_batch: int = MAX_BATCH):
        self.send_batch = send_batch
        self.max_batch = max_batch
        self._waiting: list[_Waiting] = []
        self._sending = False
        self._changed = threading.Condition()

    def publish(self, crash_id: str) -> None:
        item = _Waiting(crash_id)
        with self._changed:
            self._waiting.append(item)
        while True:
            with self._changed:
                while self._sending and not item.done:
                    self._changed.wait()
                if item.done:
                    break
                self._sending = True
                batch = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
            try:
                self._send(batch)
            finally:
                with self._changed:
                    self._sending = False
                    self._changed.notify_all()
        if item.error is not None:
            raise item.error

    def _send(self, batch: list[_Waiting]) -> None:
        try:
            failed = set(self.send_batch([item.crash_id for item in batch]))
            error: Exception | None = None
        except Exception as exc:  # every id of the batch failed; each caller hears why
            failed, error = {item.crash_id for item in batch}, exc
        for item in batch:
            if item.crash_id in failed:
                item.error = PublishFailed(f"{item.crash_id}: {error or 'refused by the queue'}")
            item.done = True


class Republisher:
    """Crash ids the queue did not take when they were accepted (it was down), published
    again from a background thread until it takes them: crashes accepted during a queue
    outage are queued within seconds once the queue is back, instead of waiting for an
    operator's `crashflow recover` (which is still what finds the ids of a collector that
    stopped before it could publish them)."""

    def __init__(
        self,
        send_batch: Callable[[list[str]], list[str]],
        first_wait: float = 0.5,
        max_wait: float = 10,
        max_pending: int = 100_000,
    ):
        self.send_batch = send_batch
        self.first_wait = first_wait
        self.max_wait = max_wait
        self.max_pending = max_pending
        self._pending: list[str] = []
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, crash_id: str) -> bool:
        """Queue ``crash_id`` later; False when too many wait already (left for recovery)."""
        with self._changed:
            if len(self._pending) >= self.max_pending:
                return False
            self._pending.append(crash_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="republisher", daemon=True)
                self._thread.start()
            self._changed.notify_all()
        return True

    def pending(self) -> int:
        with self._changed:
            return len(self._pending)

    def _run(self) -> None:
        wait = self.first_wait
        while True:
            with self._changed:
                while not self._pending:
                    self._changed.wait()
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
            try:
                refused = self.send_batch(batch)
            except Exception as error:  # the queue is still down
                log.info("the queue still does not take %d crash id(s): %s", len(batch), error)
                refused = batch
            if refused:
                with self._changed:
                    self._pending[:0] = refused
                time.sleep(wait)
                wait = min(self.max_wait, wait * 2)
            else:
                log.info("queued %d crash id(s) the queue could not take before", len(batch))
                wait = self.first_wait
