"""process: triggered by queue messages as CloudEvents, and by ``POST /process?crash_id=``
for priority processing (on demand). What is asked, whichever way it comes, is one
``crashflow.messages.ProcessingRequest``.

Answers: 2xx when the message is done with (processed, or one that can never succeed:
malformed, or its crash is not in storage); 503 when a store failed, 500 on a fault of
ours, so the queue redelivers it and, after ``queue_max_receives`` tries, dead-letters it.
"""

import functools
import logging

import flask
import functions_framework
from cloudevents.exceptions import GenericException
from cloudevents.http import from_http

from crashflow import metrics
from crashflow.logs import crash_context, setup_logging
from crashflow.messages import InvalidMessage, ProcessingRequest
from crashflow.metrics import standard_endpoint
from crashflow.processor.service import Processor
from crashflow.settings import get_settings
from crashflow.stores.errors import StoreUnavailable

log = logging.getLogger("crashflow.process")
# Read (and so validate: public annotations, protected fields) the settings at start-up.
SETTINGS = get_settings()


def request_endpoint(request: flask.Request) -> str:
    """The endpoint label of the request metrics: ``/`` (queue events), ``/process``."""
    return "/process" if request.path == "/process" else standard_endpoint(request.path)


@functools.cache
def processor() -> Processor:
    setup_logging()
    return Processor(SETTINGS)


def _request(request: flask.Request) -> ProcessingRequest:
    if request.path == "/process":
        return ProcessingRequest.for_origin(request.args.get("crash_id", ""), "on_demand")
    try:
        event = from_http(request.headers, request.get_data())
    except GenericException as error:
        raise InvalidMessage(f"not a CloudEvent: {error}") from None
    return ProcessingRequest.from_event_data(event.data)


@functions_framework.http
def process(request: flask.Request):
    if request.path == "/__lbheartbeat__":  # alive; asks no store
        return flask.jsonify({"status": "ok"})
    if request.path == "/__heartbeat__":
        checks = processor().health()
        return flask.jsonify(checks), 200 if all(checks.values()) else 503
    on_demand = request.path == "/process"
    try:
        asked = _request(request)
    except InvalidMessage as error:
        # A malformed message can never succeed: acknowledge it so it is not redelivered.
        log.error("rejected message: %s", error)
        metrics.PROCESS_CRASHES.labels("rejected", "").inc()
        return flask.jsonify({"status": "rejected", "error": str(error)}), 400 if on_demand else 200
    crash_id = asked.crash_id
    try:
        with crash_context(crash_id):
            outcome = processor().process(crash_id, asked.ruleset, asked.fresh_symbols)
    except StoreUnavailable as error:
        with crash_context(crash_id):
            log.warning("processing %s (%s) failed (%s); the queue will redeliver it", crash_id, asked.requested_by, error)
        metrics.PROCESS_CRASHES.labels("error", asked.ruleset).inc()
        metrics.PROCESS_RETRIES.inc()
        return flask.jsonify({"status": "error", "crash_id": crash_id, "error": f"{error.store} unavailable"}), 503
    except Exception as error:
        with crash_context(crash_id):
            log.exception("processing %s (%s) failed; the queue will redeliver it", crash_id, asked.requested_by)
        metrics.PROCESS_CRASHES.labels("error", asked.ruleset).inc()
        metrics.PROCESS_RETRIES.inc()
        return flask.jsonify({"status": "error", "crash_id": crash_id, "error": f"{type(error).__name__}"}), 500
    metrics.PROCESS_CRASHES.labels(outcome.status, asked.ruleset).inc()
    if not on_demand:
        # The queue only needs the 2xx; the processed crash is in HBase.
        return flask.jsonify({"status": outcome.status, "crash_id": crash_id})
    if outcome.status == "missing":
        return flask.jsonify({"status": "missing", "crash_id": crash_id}), 404
    return flask.jsonify({"status": outcome.status, "crash_id": crash_id, "processed": outcome.processed})
