"""Publishing accepted crash ids, several requests to one queue call.

A SendMessage costs the collector about 2.5 ms of CPU (botocore), as much as the rest of a
crash. Requests that reach the queue at the same time share one SendMessageBatch instead:
a waiting request whose id is not sent yet, and finds no batch in flight, sends the oldest
ten waiting ids (its own among them, sooner or later); the others wait for their answer.
No request waits for a timer, and each still returns only after its own id was sent, or
failed after retries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

MAX_BATCH = 10  # SQS's limit for SendMessageBatch


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
