"""The crash queues in SQS: ``priority``, ``standard`` and ``reprocessing``, each
redriven to one dead-letter queue after ``queue_max_receives`` failed deliveries.

Publishing, once per crash, goes through libcurl (``stores.awshttp``) in SQS's JSON protocol;
receiving, deleting and queue administration through boto3."""

from __future__ import annotations

import json
import logging

from crashflow.settings import Settings
from crashflow.stores.awshttp import SignedHttp
from crashflow.stores.boto import boto3_client, unavailable_as
from crashflow.stores.errors import StoreUnavailable
from crashflow.stores.interfaces import DEAD_LETTER, QUEUE_KINDS, QueueMessage

log = logging.getLogger(__name__)


class EntriesRefused(Exception):
    """SQS took a batch but refused some entries for reasons of its own (not the sender's
    fault): worth sending those again."""

    transient = True

    def __init__(self, bodies: list[str]):
        super().__init__(f"the queue refused {len(bodies)} message(s) for now")
        self.bodies = bodies


def collector_sender(settings: Settings) -> SignedHttp:
    """The collector's SQS publishes: short timeouts, so that an SQS that does not answer
    gives a crash up to `crashflow recover` within seconds (attempts x timeout, about 9 s
    by default) instead of holding the client's upload for minutes."""
    return SignedHttp(
        settings,
        "sqs",
        connect_timeout=settings.collector_sqs_connect_timeout,
        timeout=settings.collector_sqs_connect_timeout + settings.collector_sqs_read_timeout,
        attempts=settings.collector_sqs_max_attempts,
    )


class CrashQueues:
    """Publishes crash ids to, and receives them from, the crash queues."""

    def __init__(self, settings: Settings, sender: SignedHttp | None = None):
        self.settings = settings
        self.sqs = boto3_client(settings, "sqs")
        self.sender = sender or SignedHttp(settings, "sqs")
        self._urls: dict[str, str] = {}

    def url(self, kind: str) -> str:
        if kind not in self._urls:
            name = self.settings.queue_name(kind)
            with unavailable_as("sqs"):
                self._urls[kind] = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return self._urls[kind]

    def ensure_queues(self) -> None:
        """Create the dead-letter queue, then each crash queue with its redrive policy."""
        with unavailable_as("sqs"):
            self._create_queues()

    def _create_queues(self) -> None:
        settings = self.settings
        dlq_url = self.sqs.create_queue(QueueName=settings.queue_name(DEAD_LETTER))["QueueUrl"]
        dlq_arn = self.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        redrive = json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(settings.queue_max_receives)}
        )
        attributes = {
            "VisibilityTimeout": str(settings.queue_visibility_timeout),
            "RedrivePolicy": redrive,
        }
        for kind in QUEUE_KINDS:
            url = self.sqs.create_queue(QueueName=settings.queue_name(kind))["QueueUrl"]
            self.sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)

    def is_healthy(self) -> bool:
        # Asks the queue every time: its URL is cached after the first look-up.
        try:
            with unavailable_as("sqs"):
                self.sqs.get_queue_attributes(QueueUrl=self.url("standard"), AttributeNames=["QueueArn"])
        except StoreUnavailable:
            return False
        return True

    def _call_once(self, action: str, request: dict) -> dict:
        """One try of an SQS action in the JSON protocol, through the libcurl sender."""
        endpoint = self.sender.endpoint or f"https://sqs.{self.settings.aws_region}.amazonaws.com"
        answer = self.sender.send_once("POST", endpoint + "/", json.dumps(request).encode(), [
            "Content-Type: application/x-amz-json-1.0", f"X-Amz-Target: AmazonSQS.{action}",
        ])
        return json.loads(answer.expect(f"SQS {action}").body)

    def publish(self, kind: str, body: str) -> None:
        request = {"QueueUrl": self.url(kind), "MessageBody": body}
        self.sender.retrying(lambda: self._call_once("SendMessage", request))

    def publish_batch(self, kind: str, bodies: list[str]) -> list[str]:
        """Send up to 10 messages in one call; the bodies the queue did not take. Within the
        sender's retries (its only retry layer), a failed call is made again and entries
        the queue refused for now are sent again, alone; those refused as malformed (the
        sender's fault) are not."""
        url, pending, refused = self.url(kind), list(bodies), []

        def send_pending() -> None:
            nonlocal pending
            entries = [{"Id": str(index), "MessageBody": body} for index, body in enumerate(pending)]
            answer = self._call_once("SendMessageBatch", {"QueueUrl": url, "Entries": entries})
            failed = answer.get("Failed", [])
            refused.extend(pending[int(failure["Id"])] for failure in failed if failure.get("SenderFault"))
            pending = [pending[int(failure["Id"])] for failure in failed if not failure.get("SenderFault")]
            if pending:
                raise EntriesRefused(pending)

        try:
            self.sender.retrying(send_pending)
        except EntriesRefused:
            pass  # the ones still refused after the last try: the caller hears which
        return refused + pending

    def receive(self, kind: str, max_messages: int = 10, wait_seconds: int = 0,
                visibility_seconds: int | None = None) -> list[QueueMessage]:
        """Up to ``max_messages`` messages, hidden from other receivers for
        ``visibility_seconds`` (default: the queue's visibility timeout)."""
        extra = {} if visibility_seconds is None else {"VisibilityTimeout": visibility_seconds}
        with unavailable_as("sqs"):
            answer = self.sqs.receive_message(
                QueueUrl=self.url(kind),
                MaxNumberOfMessages=max_messages,
                WaitTimeSeconds=wait_seconds,
                AttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
                **extra,
            )
        return [
            QueueMessage(
                kind=kind,
                body=message["Body"],
                receipt_handle=message["ReceiptHandle"],
                receive_count=int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
                sent_at=int(message["Attributes"]["SentTimestamp"]) / 1000
                if "SentTimestamp" in message.get("Attributes", {}) else None,
            )
            for message in answer.get("Messages", [])
        ]

    def delete(self, message: QueueMessage) -> None:
        with unavailable_as("sqs"):
            self.sqs.delete_message(QueueUrl=self.url(message.kind), ReceiptHandle=message.receipt_handle)

    def delete_many(self, messages: list[QueueMessage]) -> None:
        """Delete messages received from one queue, ten per request."""
        for start in range(0, len(messages), 10):
            batch = messages[start : start + 10]
            with unavailable_as("sqs"):
                answer = self.sqs.delete_message_batch(
                    QueueUrl=self.url(batch[0].kind),
                    Entries=[{"Id": str(i), "ReceiptHandle": m.receipt_handle} for i, m in enumerate(batch)],
                )
            if answer.get("Failed"):
                # Not deleted: it comes back after the visibility timeout and is processed again,
                # which processing makes harmless.
                log.warning("could not delete %d delivered message(s): %s", len(answer["Failed"]), answer["Failed"])

    def set_visibility(self, messages: list[QueueMessage], seconds: int) -> list[QueueMessage]:
        """Make messages of one queue visible again in ``seconds`` (0: at once), ten per
        request: a lease extended, or a failed delivery retried sooner than the queue's
        visibility timeout. A message deleted meanwhile (or visible again) is no error: the
        messages not changed are returned."""
        unchanged = []
        for start in range(0, len(messages), 10):
            batch = messages[start : start + 10]
            with unavailable_as("sqs"):
                answer = self.sqs.change_message_visibility_batch(
                    QueueUrl=self.url(batch[0].kind),
                    Entries=[{"Id": str(i), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": int(seconds)}
                             for i, m in enumerate(batch)],
                )
            if answer.get("Failed"):
                log.info("visibility of %d message(s) not changed: %s", len(answer["Failed"]), answer["Failed"])
                unchanged += [batch[int(failure["Id"])] for failure in answer["Failed"]]
        return unchanged

    def count(self, kind: str) -> int:
        """Messages visible plus in flight: an estimate, as SQS gives it."""
        return sum(self.counts(kind))

    def counts(self, kind: str) -> tuple[int, int]:
        """Messages visible (waiting) and in flight (received, not deleted), as SQS estimates."""
        with unavailable_as("sqs"):
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=self.url(kind),
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
        return (int(attributes.get("ApproximateNumberOfMessages", 0)),
                int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)))
