"""The relay: crashflow's trigger from the crash queues to the process function, in
production (``infra/knative/relay.yaml``, the default SQS trigger on Knative) as on one
machine; locally it also plays Knative's PingSources.

It drains the crash queues (priority before standard before reprocessing) and POSTs each
message to the process function as a binary-mode CloudEvent whose data is the message's
``ProcessingRequest`` (a short message read as the queue it came from says), deleting the
message only on a 2xx answer. It also fires the aggregation schedules (each job's default,
or ``CRASHFLOW_SCHEDULES``; none in a cluster, where PingSources do) as CloudEvents to
aggregate.

Recovery after faults takes seconds, not the queue's visibility timeout:

- A message is received for ``relay_lease_seconds`` only, and its lease is extended while
  its delivery runs: the messages of a relay killed mid-delivery come back that soon.
- A failed delivery comes back after a short backoff that doubles with each receive
  (``relay_retry_seconds`` .. ``relay_retry_max_seconds``); SQS's redrive policy still moves
  it to the dead-letter queue after ``queue_max_receives`` receives.
- A failure that looks like an outage (process unreachable, or answering 503) stops
  receiving until process's ``/__heartbeat__`` (which checks its stores) answers 200
  again: an outage does not use up the tries of the crashes waiting meanwhile. The
  messages whose delivery failed so are held meanwhile (their leases extended) and
  delivered first once process is healthy: the crashes that failed during an outage are
  processed as soon as the part is back, not behind every crash queued while it was down.
  A delivery that got no answer or a 503 while process is healthy again at once (a worker
  killed and replaced; a store that came back as the delivery failed) is retried at once,
  first, once. A crash that fails while process is healthy
  is retried after the backoff and, in the end, dead-lettered as before.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, wait

import requests
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from croniter import croniter

from crashflow import metrics
from crashflow.aggregation import schedules
from crashflow.messages import InvalidMessage, ProcessingRequest
from crashflow.settings import Settings
from crashflow.stores.errors import StoreUnavailable
from crashflow.stores.factory import Stores
from crashflow.stores.interfaces import DEAD_LETTER, QUEUE_KINDS, QueueMessage

log = logging.getLogger(__name__)

# How often the relay asks SQS how many messages each queue holds (its metrics).
QUEUE_OBSERVATION_SECONDS = 15


def post_event(url: str, event_type: str, source: str, data, timeout: float = 300) -> requests.Response:
    attributes = {"type": event_type, "source": source, "id": str(uuid.uuid4())}
    if isinstance(data, str):
        # A queue message goes as its raw body, as Knative's SQS source sends it.
        attributes["datacontenttype"] = "text/plain"
        headers, body = to_binary(CloudEvent(attributes, data), data_marshaller=str.encode)
    else:
        headers, body = to_binary(CloudEvent(attributes, data))
    return requests.post(url, headers=headers, data=body, timeout=timeout)


class Schedule:
    """When each aggregation job is next due (``expressions`` as settings validated them)."""

    def __init__(self, expressions: dict[str, str], now: dt.datetime):
        self.iterators = {name: croniter(expr, now) for name, expr in expressions.items()}
        self.next_due = {name: it.get_next(dt.datetime) for name, it in self.iterators.items()}

    def due(self, now: dt.datetime) -> list[str]:
        names = [name for name, when in self.next_due.items() if when <= now]
        for name in names:
            self.next_due[name] = self.iterators[name].get_next(dt.datetime)
        return names


class Delivery(enum.Enum):
    DONE = "done"  # a 2xx: delete the message
    FAILED = "failed"  # process refused this message: retry it after a backoff
    # No answer, or a store down (503): wait until process is healthy (if it is at once,
    # retry once at once).
    OUTAGE = "outage"


def retry_delay(receive_count: int, first: float, most: float) -> int:
    """Seconds until a message that failed on its ``receive_count``-th receive is retried."""
    return round(min(most, first * 2 ** max(0, receive_count - 1)))


def by_queue(messages: list[QueueMessage]) -> list[list[QueueMessage]]:
    """``messages`` in groups of one queue each (a queue call takes one queue's messages)."""
    groups: dict[str, list[QueueMessage]] = {}
    for message in messages:
        groups.setdefault(message.kind, []).append(message)
    return list(groups.values())


class Relay:
    def __init__(self, settings: Settings, workers: int = 2):
        self.settings = settings
        self.queues = Stores.from_settings(settings, "relay").queues
        self.lease = settings.relay_lease_seconds
        # Set when a delivery failed as an outage would: no receiving until process is healthy.
        self.outage = False
        # The messages whose delivery failed in that outage: kept (leases extended) and
        # delivered before anything else once process is healthy again.
        self.held: list[QueueMessage] = []
        self._held_renewed = 0.0
        # Receipt handles of held messages that failed while process looked healthy.
        self._retried_at_once: set[str] = set()
        # A batch is as large as the pool (SQS gives ten at most): every message of it is in
        # flight at once, and none waits for a second round behind the others.
        self.batch_size = max(1, min(10, workers))
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="relay")
        self.schedule = Schedule(schedules(settings), dt.datetime.now(dt.timezone.utc))
        # Aggregation runs take seconds to minutes: their requests wait on a thread of their
        # own, not in the loop that delivers crashes.
        self.scheduler = ThreadPoolExecutor(max_workers=1, thread_name_prefix="relay-schedule")
        self._oldest_sent: dict[str, float] = {}

    def deliver(self, message: QueueMessage) -> Delivery:
        """POST one message to process."""
        try:
            data = ProcessingRequest.from_message(message.body, queue=message.kind).model_dump()
        except InvalidMessage:
            data = message.body  # as it is: process refuses it, and acknowledges it
        try:
            answer = post_event(
                f"{self.settings.process_base_url}/",
                "com.crashflow.crash.queued",
                f"crashflow/queue/{message.kind}",
                data,
            )
        except requests.RequestException as error:
            log.warning("process unreachable for %s: %s", message.body, error)
            return self._failed(message, Delivery.OUTAGE)
        if 200 <= answer.status_code < 300:
            metrics.RELAY_MESSAGES.labels(message.kind, "delivered").inc()
            return Delivery.DONE
        log.warning("process answered %s for %s (try %s)", answer.status_code, message.body, message.receive_count)
        return self._failed(message, Delivery.OUTAGE if answer.status_code == 503 else Delivery.FAILED)

    def _failed(self, message: QueueMessage, outcome: Delivery) -> Delivery:
        metrics.RELAY_MESSAGES.labels(message.kind, "failed").inc()
        return outcome

    def process_is_healthy(self) -> bool:
        """Whether process and the stores it needs answer (its ``/__heartbeat__``)."""
        try:
            return requests.get(f"{self.settings.process_base_url}/__heartbeat__", timeout=10).status_code == 200
        except requests.RequestException:
            return False

    def observe_queues(self, now: float | None = None) -> None:
        """Set the queue gauges: messages per queue and state, and the age of the oldest
        message the relay last received from a queue that still holds messages."""
        now = now or time.time()
        for kind in (*QUEUE_KINDS, DEAD_LETTER):
            visible, in_flight = self.queues.counts(kind)
            metrics.QUEUE_MESSAGES.labels(kind, "visible").set(visible)
            metrics.QUEUE_MESSAGES.labels(kind, "in_flight").set(in_flight)
            oldest = self._oldest_sent.get(kind)
            if not visible + in_flight:
                self._oldest_sent.pop(kind, None)
                oldest = None
            metrics.QUEUE_OLDEST_AGE.labels(kind).set(max(0.0, now - oldest) if oldest else 0)

    def drain_once(self, wait_seconds: int = 0) -> int:
        """Deliver one batch from the first non-empty queue, in priority order; delete what
        process acknowledged (one request for the batch). After an outage, nothing is
        received until process is healthy again (0 delivered)."""
        if self.outage:
            if not self.process_is_healthy():
                self._renew_held()
                return 0
            log.info("process is healthy again; delivering (first the %d held)", len(self.held))
            self.outage = False
        if self.held:
            batch, self.held = self.held[: self.batch_size], self.held[self.batch_size :]
            self._renew_held()  # those that wait for a later batch
            return self._deliver_all(batch)
        for kind in QUEUE_KINDS:
            messages = self.queues.receive(kind, max_messages=self.batch_size, visibility_seconds=self.lease)
            if messages:
                return self._deliver_all(messages)
        if wait_seconds:
            # Idle: long-poll the standard queue briefly, so new crashes start at once.
            return self._deliver_all(self.queues.receive(
                "standard", max_messages=self.batch_size, wait_seconds=wait_seconds, visibility_seconds=self.lease,
            ))
        return 0

    def _deliver_all(self, messages: list[QueueMessage]) -> int:
        sent = [message.sent_at for message in messages if message.sent_at]
        if sent:
            self._oldest_sent[messages[0].kind] = min(sent)
        futures = {self.pool.submit(self.deliver, message): message for message in messages}
        running = set(futures)
        while running:
            _, running = wait(running, timeout=self.lease / 3)
            if running:  # still being processed: keep them from other receivers
                for group in by_queue([futures[future] for future in running]):
                    self.queues.set_visibility(group, self.lease)
        outcomes = {futures[future].receipt_handle: future.result() for future in futures}
        delivered = [message for message in messages if outcomes[message.receipt_handle] is Delivery.DONE]
        failed = [message for message in messages if outcomes[message.receipt_handle] is not Delivery.DONE]
        for group in by_queue(delivered):
            self.queues.delete_many(group)
        if any(outcome is Delivery.OUTAGE for outcome in outcomes.values()):
            self.outage = not self.process_is_healthy()
        if self.outage:
            # Held, not retried after the backoff: delivered first once process is back.
            held = [message for message in failed if outcomes[message.receipt_handle] is Delivery.OUTAGE]
        else:
            # No answer or a 503, yet process answers its heartbeat at once (say, a worker
            # killed mid-delivery that gunicorn replaced, or HBase back just as the delivery
            # timed out): a message's first such failure is delivered again at once, first
            # in line, not after the backoff behind the backlog of the outage; a second one
            # takes the backoff's way.
            held = [message for message in failed if outcomes[message.receipt_handle] is Delivery.OUTAGE
                    and message.receipt_handle not in self._retried_at_once]
            self._retried_at_once.update(message.receipt_handle for message in held)
        if held:
            failed = [message for message in failed if message not in held]
            self.held += held
            self._renew_held(now=True)
        self._retried_at_once.difference_update(message.receipt_handle for message in (*delivered, *failed))
        for message in failed:
            self.queues.set_visibility([message], retry_delay(
                message.receive_count, self.settings.relay_retry_seconds, self.settings.relay_retry_max_seconds))
            if message.receive_count >= self.settings.queue_max_receives:
                # The queue's redrive policy moves it to the dead-letter queue now.
                metrics.RELAY_DEAD_LETTERS.labels(message.kind).inc()
                log.error("%s failed its last allowed delivery: dead-lettered", message.body)
        return len(delivered)

    def _renew_held(self, now: bool = False) -> None:
        """Extend the leases of the held messages (every third of a lease, or ``now``).
        Those whose lease could not be extended (run out, or the queue is down) are let go:
        they come back from the queue after their lease, as any message does."""
        if not self.held or not (now or time.monotonic() - self._held_renewed >= self.lease / 3):
            return
        self._held_renewed = time.monotonic()
        try:
            lost = [message for group in by_queue(self.held) for message in self.queues.set_visibility(group, self.lease)]
        except StoreUnavailable as error:
            log.warning("could not extend the leases of %d held message(s): %s", len(self.held), error)
            lost = list(self.held)
        if lost:
            self.held = [message for message in self.held if message not in lost]

    def fire_schedules(self, now: dt.datetime | None = None) -> list[str]:
        """Send the due jobs to aggregate (in the background); returns their names."""
        fired = self.schedule.due(now or dt.datetime.now(dt.timezone.utc))
        for name in fired:
            self.scheduler.submit(self._fire, name)
        return fired

    def _fire(self, name: str) -> None:
        try:
            answer = post_event(
                f"{self.settings.aggregate_base_url}/", "dev.knative.sources.ping",
                "crashflow/schedule", {"job": name},
            )
            log.info("schedule %s fired: %s", name, answer.status_code)
        except requests.RequestException as error:
            log.warning("aggregate unreachable for %s: %s", name, error)

    def run(self, stop: threading.Event) -> None:
        log.info("relay started")
        next_observation = 0.0
        while not stop.is_set():
            try:
                self.fire_schedules()
                if time.monotonic() >= next_observation:
                    next_observation = time.monotonic() + QUEUE_OBSERVATION_SECONDS
                    self.observe_queues()
                self.drain_once(wait_seconds=1)
                if self.outage:
                    stop.wait(1)  # process (or a store behind it) is down: ask again shortly
            except Exception:
                log.exception("relay loop failed; retrying")
                stop.wait(2)
        self.close()

    def close(self) -> None:
        """Stop the delivery threads (after their batch) and the schedule thread (a request
        to aggregate in flight is not waited for: aggregate records the run either way)."""
        self.pool.shutdown(wait=True)
        self.scheduler.shutdown(wait=False, cancel_futures=True)
        if self.held:  # to the next relay at once, not after their lease
            try:
                for group in by_queue(self.held):
                    self.queues.set_visibility(group, 0)
            except StoreUnavailable:
                pass
            self.held = []
