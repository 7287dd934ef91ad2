"""Priority processing: a user asked for a crash that is stored but not processed yet.

The crash goes straight to the process function's ``POST /process`` (past any queue
backlog); the caller waits up to ``priority_wait_seconds`` for it. Processing goes on when
the wait ends, and a second ask for the same crash joins the processing already under way
instead of starting another. When the process function cannot be reached, the crash id
goes to the ``priority`` queue, which the relay drains before any other.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as WaitTimeout

import requests

from crashflow.messages import ProcessingRequest
from crashflow.metrics import QUERY_PRIORITY
from crashflow.settings import Settings
from crashflow.stores.errors import StoreUnavailable
from crashflow.stores.interfaces import CrashQueue

log = logging.getLogger(__name__)

# How long a crash queued for priority processing is not queued again.
REQUEUE_AFTER_SECONDS = 60


class PriorityProcessing:
    def __init__(self, settings: Settings, queues: CrashQueue, workers: int = 4):
        self.url = f"{settings.process_base_url}/process"
        self.read_timeout = settings.stackwalker_timeout + 30
        self.wait_seconds = settings.priority_wait_seconds
        self.queues = queues
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="priority")
        self._in_flight: dict[str, Future] = {}
        self._queued_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def process(self, crash_id: str) -> dict | None:
        """The processed crash, or None when it is not ready within the wait."""
        started = False
        with self._lock:
            future = self._in_flight.get(crash_id)
            if future is None:
                future = self.executor.submit(self._process, crash_id)
                self._in_flight[crash_id] = future
                started = True
        if started:
            # Outside the lock: a future already done runs the callback at once, and
            # _forget takes the (non-reentrant) lock.
            future.add_done_callback(lambda done: self._forget(crash_id, done))
        try:
            processed = future.result(timeout=self.wait_seconds)
        except WaitTimeout:
            QUERY_PRIORITY.labels("pending").inc()
            return None
        QUERY_PRIORITY.labels("processed" if processed is not None else "queued").inc()
        return processed

    def _forget(self, crash_id: str, future: Future) -> None:
        with self._lock:
            if self._in_flight.get(crash_id) is future:  # not a later ask's processing
                del self._in_flight[crash_id]

    def _process(self, crash_id: str) -> dict | None:
        try:
            answer = requests.post(self.url, params={"crash_id": crash_id}, timeout=(3, self.read_timeout))
            if answer.ok:
                return answer.json().get("processed")
            log.warning("priority processing of %s: process answered %s", crash_id, answer.status_code)
        except requests.RequestException as error:
            log.warning("priority processing of %s: process unreachable (%s)", crash_id, error)
        self._queue(crash_id)
        return None

    def _queue(self, crash_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._queued_at.get(crash_id, -REQUEUE_AFTER_SECONDS) < REQUEUE_AFTER_SECONDS:
                return
            self._queued_at = {k: t for k, t in self._queued_at.items() if now - t < REQUEUE_AFTER_SECONDS}
            self._queued_at[crash_id] = now
        try:
            self.queues.publish("priority", ProcessingRequest.for_origin(crash_id, "priority").to_message())
        except StoreUnavailable:
            log.exception("could not queue %s for priority processing", crash_id)
