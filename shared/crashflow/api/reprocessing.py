"""``Reprocessing``: queue crashes to be processed again (``reprocess_crashes``)."""

from __future__ import annotations

import logging

from crashflow.api.calls import Call, Reply
from crashflow.api.errors import OUTAGE_RETRY_AFTER_SECONDS, BadRequest
from crashflow.messages import RULESETS, InvalidMessage, ProcessingRequest
from crashflow.stores.errors import StoreUnavailable

log = logging.getLogger(__name__)

PERMISSION = "reprocess_crashes"
BATCH_SIZE = 10  # SQS takes at most 10 messages per call
MAX_CRASH_IDS = 10_000


def parse_crash_ids(values: list[str]) -> list[ProcessingRequest]:
    """The requests of ``<id>`` or ``<id>:<rule set>`` values (comma-separated too), each
    once; every one checked before any is queued."""
    requests = []
    for value in values:
        for part in value.split(","):
            if not part.strip():
                continue
            crash_id, _, ruleset = part.strip().partition(":")
            try:
                requests.append(ProcessingRequest.for_origin(crash_id, "reprocessing", ruleset or "default"))
            except InvalidMessage as error:
                raise BadRequest(f"{part.strip()[:80]!r}: {error} (rule sets: {', '.join(RULESETS)})") from None
    if not requests:
        raise BadRequest("crash_ids is required")
    if len(requests) > MAX_CRASH_IDS:
        raise BadRequest(f"at most {MAX_CRASH_IDS} crash ids at a time")
    return list(dict.fromkeys(requests))


def reprocessing(services, call: Call) -> Reply:
    call.require(PERMISSION)
    values = call.request.form.getlist("crash_ids") + call.args.getlist("crash_ids")
    requests = parse_crash_ids(values)
    queued, not_queued = publish_all(services.queues, [request.to_message() for request in requests])
    if not_queued:
        return Reply(503, {
            "error": f"{len(not_queued)} of {len(queued) + len(not_queued)} crashes could not be queued; "
                     "send those again",
            "queued": queued,
            "not_queued": not_queued,
        }, {"Retry-After": str(OUTAGE_RETRY_AFTER_SECONDS)})
    return Reply(200, True)


def publish_all(queues, messages: list[str]) -> tuple[list[str], list[str]]:
    """Queue ``messages`` in batches of ``BATCH_SIZE``: (queued, not queued). After a batch
    that failed outright, the rest are not tried (the queue is likely down)."""
    queued, not_queued = [], []
    for start in range(0, len(messages), BATCH_SIZE):
        batch = messages[start:start + BATCH_SIZE]
        try:
            refused = set(queues.publish_batch("reprocessing", batch))
        except StoreUnavailable:
            log.exception("could not queue %d crashes for reprocessing", len(messages) - start)
            return queued, not_queued + messages[start:]
        queued.extend(message for message in batch if message not in refused)
        not_queued.extend(message for message in batch if message in refused)
    return queued, not_queued
