"""process: triggered by queue messages as CloudEvents (data: the crash id, or
``<id>:<ruleset>``), and by ``POST /process?crash_id=`` for priority processing.

Answers: 2xx when the message is done with (processed, or one that can never succeed:
malformed, or its crash is not in storage); 503 when a store failed, so the queue
redelivers it and, after ``queue_max_receives`` tries, dead-letters it.
"""

import functools
import logging

import flask
import functions_framework
from cloudevents.exceptions import GenericException
from cloudevents.http import from_http

from crashflow.logs import setup_logging
from crashflow.processor.service import InvalidMessage, Processor, parse_message
from crashflow.settings import get_settings
from crashflow.stores.errors import StoreUnavailable

log = logging.getLogger("crashflow.process")
# Read (and so validate: public annotations, protected fields) the settings at start-up.
SETTINGS = get_settings()


@functools.cache
def processor() -> Processor:
    setup_logging()
    return Processor(SETTINGS)


def _message(request: flask.Request) -> tuple[str, bool]:
    """The message, and whether symbols must be looked up afresh: for on-demand processing
    and for messages from the reprocessing queue (its name ends the event source)."""
    if request.path == "/process":
        return request.args.get("crash_id", ""), True
    try:
        event = from_http(request.headers, request.get_data())
    except GenericException as error:
        raise InvalidMessage(f"not a CloudEvent: {error}") from None
    fresh_symbols = str(event.get("source") or "").endswith("reprocessing")
    data = event.data
    if isinstance(data, bytes):
        data = data.decode()
    if isinstance(data, dict):
        # {"crash_id": ...} from our own callers; SQS event sources wrap the message: {"Body": ...}.
        data = data.get("crash_id") or data.get("Body") or ""
    return str(data or ""), fresh_symbols


@functions_framework.http
def process(request: flask.Request):
    if request.path == "/__lbheartbeat__":  # alive; asks no store
        return flask.jsonify({"status": "ok"})
    if request.path == "/__heartbeat__":
        checks = processor().health()
        return flask.jsonify(checks), 200 if all(checks.values()) else 503
    on_demand = request.path == "/process"
    try:
        message, fresh_symbols = _message(request)
        crash_id, ruleset = parse_message(message)
    except InvalidMessage as error:
        # A malformed message can never succeed: acknowledge it so it is not redelivered.
        log.error("rejected message: %s", error)
        return flask.jsonify({"status": "rejected", "error": str(error)}), 400 if on_demand else 200
    try:
        outcome = processor().process(crash_id, ruleset, fresh_symbols)
    except StoreUnavailable as error:
        log.warning("processing %s failed (%s); the queue will redeliver it", crash_id, error)
        return flask.jsonify({"status": "error", "crash_id": crash_id, "error": f"{error.store} unavailable"}), 503
    except Exception as error:
        log.exception("processing %s failed; the queue will redeliver it", crash_id)
        return flask.jsonify({"status": "error", "crash_id": crash_id, "error": f"{type(error).__name__}"}), 500
    if not on_demand:
        # The queue only needs the 2xx; the processed crash is in HBase.
        return flask.jsonify({"status": outcome.status, "crash_id": crash_id})
    if outcome.status == "missing":
        return flask.jsonify({"status": "missing", "crash_id": crash_id}), 404
    return flask.jsonify({"status": outcome.status, "crash_id": crash_id, "processed": outcome.processed})
