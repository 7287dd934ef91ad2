"""process: triggered by queue messages as CloudEvents (data: the crash id, or
``<id>:<ruleset>``), and by ``POST /process?crash_id=`` for priority processing."""

import functools

import flask
import functions_framework
from cloudevents.http import from_http

from crashflow.crashids import InvalidCrashId
from crashflow.logs import setup_logging
from crashflow.processor.service import Processor, parse_message
from crashflow.settings import get_settings


@functools.cache
def processor() -> Processor:
    setup_logging()
    return Processor(get_settings())


def _message(request: flask.Request) -> str:
    if request.path == "/process":
        return request.args.get("crash_id", "")
    event = from_http(request.headers, request.get_data())
    data = event.data
    if isinstance(data, bytes):
        data = data.decode()
    if isinstance(data, dict):
        # {"crash_id": ...} from our own callers; SQS event sources wrap the message: {"Body": ...}.
        data = data.get("crash_id") or data.get("Body") or ""
    return str(data or "")


@functions_framework.http
def process(request: flask.Request):
    if request.path == "/__heartbeat__":
        checks = processor().health()
        return flask.jsonify(checks), 200 if all(checks.values()) else 503
    try:
        crash_id, ruleset = parse_message(_message(request))
    except InvalidCrashId as error:
        # A malformed message can never succeed: acknowledge it so it is not redelivered.
        return flask.jsonify({"status": "rejected", "error": str(error)}), 200 if request.path != "/process" else 400
    outcome = processor().process(crash_id, ruleset)
    if outcome.status == "missing" and request.path == "/process":
        return flask.jsonify({"status": "missing", "crash_id": crash_id}), 404
    return flask.jsonify({"status": outcome.status, "crash_id": crash_id, "processed": outcome.processed})
