"""collect: the HTTP function crash reporters upload to (and symbol uploads arrive at)."""

import functools

import flask
import functions_framework
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from crashflow import __version__
from crashflow.collector.payload import MalformedCrash
from crashflow.collector.submit import Collector
from crashflow.collector.throttler import Throttler
from crashflow.collector.symbols_upload import (
    SymbolStoreUnavailable,
    SymbolUploader,
    SymbolUploadRefused,
    UploadForbidden,
)
from crashflow.logs import setup_logging
from crashflow.settings import get_settings

# Large reads: gunicorn copies what it has buffered on every read, so 64 KiB reads of a
# 400 KB body cost about a millisecond more CPU than 1 MiB ones.
CHUNK_SIZE = 1024 * 1024
# Twice the largest crash upload: a refused body up to this size is read and dropped.
DRAIN_BYTES = 2 * get_settings().max_request_bytes


# Read at import, so that a bad throttle rule file stops the function from starting.
THROTTLER = Throttler.from_file(get_settings().throttle_rules)


@functools.cache
def collector() -> Collector:
    setup_logging()
    return Collector(get_settings(), throttler=THROTTLER)


@functools.cache
def symbol_uploader() -> SymbolUploader:
    return SymbolUploader(get_settings())


def _body(request: flask.Request):
    try:
        while chunk := request.stream.read(CHUNK_SIZE):
            yield chunk
    except (ClientDisconnected, OSError) as error:
        # The client went away mid-body, or sent broken chunked framing (gunicorn
        # raises IOError subclasses for those).
        raise MalformedCrash("truncated_body") from error


def _refusal(body: str, status: int, mimetype: str) -> flask.Response:
    """An answer given before the whole body was read. What the client still sends is read
    and dropped here, up to DRAIN_BYTES, so that it gets the answer and its connection stays
    usable; the answer is marked streamed so that functions-framework does not then read
    the rest of the body into memory."""
    try:
        drained = 0
        while drained < DRAIN_BYTES and (chunk := flask.request.stream.read(CHUNK_SIZE)):
            drained += len(chunk)
    except (ClientDisconnected, OSError, RequestEntityTooLarge):
        pass
    data = body.encode()
    return flask.Response(iter([data]), status=status, mimetype=mimetype, headers={"Content-Length": str(len(data))})


def _error(status: int, message: str) -> flask.Response:
    return _refusal(flask.json.dumps({"error": message}), status, "application/json")


def submit(request: flask.Request):
    answer = collector().submit(
        dict(request.headers),
        _body(request),
        query=request.args.to_dict(),
        user_agent=request.headers.get("User-Agent", ""),
    )
    if answer.status >= 400:
        return _refusal(answer.body, answer.status, answer.content_type)
    return flask.Response(answer.body, status=answer.status, mimetype=answer.content_type)


def upload_symbols(request: flask.Request):
    uploader = symbol_uploader()
    try:
        uploader.check_token(request.headers.get("Auth-Token"))
        stored = uploader.store(uploader.request_files(request))
    except UploadForbidden as error:
        return _error(403, str(error))
    except SymbolUploadRefused as error:
        return _error(400, str(error))
    except SymbolStoreUnavailable as error:
        return _error(503, str(error))
    return flask.jsonify([item.to_json() for item in stored]), 201


@functions_framework.http
def collect(request: flask.Request):
    if request.path == "/__lbheartbeat__":
        return flask.jsonify({})
    if request.path == "/__version__":
        return flask.jsonify({"version": __version__})
    if request.path == "/__heartbeat__":
        healthy, checks = collector().health()
        return flask.jsonify(checks), 200 if healthy else 503
    if request.path == "/submit" and request.method == "POST":
        return submit(request)
    if request.path == "/symbols/upload" and request.method == "POST":
        return upload_symbols(request)
    return _refusal("Not found\n", 404, "text/plain")
