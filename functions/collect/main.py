"""collect: the HTTP function crash reporters upload to (and symbol uploads arrive at)."""

import functools

from urllib.parse import quote

import flask
import functions_framework
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge
from werkzeug.routing import BaseConverter, Map, Rule

from crashflow.collector.payload import MalformedCrash
from crashflow.collector.submit import Collector
from crashflow.collector.throttler import Throttler
from crashflow.collector.symbols_upload import (
    SymbolStoreUnavailable,
    SymbolUploader,
    SymbolUploadRefused,
    TokenMissing,
    UploadForbidden,
)
from crashflow.collector.symbols_v2 import SymUploadV2, UploadNotFound, UploadTooLarge, answer
from crashflow.logs import setup_logging
from crashflow.metrics import standard_endpoint
from crashflow.settings import get_settings
from crashflow.stores.factory import Stores
from crashflow.version import version_info

# Large reads: gunicorn copies what it has buffered on every read, so 64 KiB reads of a
# 400 KB body cost about a millisecond more CPU than 1 MiB ones.
CHUNK_SIZE = 1024 * 1024
# Twice the largest crash upload: a refused body up to this size is read and dropped.
DRAIN_BYTES = 2 * get_settings().max_request_bytes


# Read at import, so that a bad throttle rule file stops the function from starting.
THROTTLER = Throttler.from_file(get_settings().throttle_rules)


def request_endpoint(request: flask.Request) -> str:
    """The endpoint label of the request metrics (a bounded set): the path, or the symbol
    route's template."""
    if request.path == "/submit":
        return request.path
    if request.path.startswith("/symbols/"):
        try:
            rule, _ = SYMBOL_ROUTES.bind("").match(request.path, method=request.method, return_rule=True)
            return rule.rule
        except HTTPException:
            return "other"
    return standard_endpoint(request.path)


@functools.cache
def stores() -> Stores:
    setup_logging()
    return Stores.from_settings(get_settings(), "collector")


@functools.cache
def collector() -> Collector:
    return Collector(get_settings(), stores(), throttler=THROTTLER)


@functools.cache
def symbol_uploader() -> SymbolUploader:
    return SymbolUploader(get_settings(), stores())


@functools.cache
def sym_upload_v2() -> SymUploadV2:
    return SymUploadV2(symbol_uploader())


def _limit_reads(request: flask.Request) -> None:
    """A client that stops sending its body mid-way (or trickles it) would hold one of the
    worker's few threads for as long as it likes: each read of the body waits at most
    ``collector_read_timeout`` seconds (gunicorn hands the connection's socket over)."""
    sock = request.environ.get("gunicorn.socket")
    if sock is not None:
        sock.settimeout(get_settings().collector_read_timeout)


def _body(request: flask.Request):
    try:
        while chunk := request.stream.read(CHUNK_SIZE):
            yield chunk
    except TimeoutError as error:
        raise MalformedCrash("timeout") from error
    except (ClientDisconnected, OSError) as error:
        # The body ended before its Content-Length, or its chunked framing is broken
        # (gunicorn raises IOError subclasses for those): Socorro's collector calls a body
        # it cannot parse invalid_payload_structure.
        raise MalformedCrash("invalid_payload_structure") from error


def _refusal(body: str, status: int, mimetype: str) -> flask.Response:
    """An answer given before the whole body was read. What the client still sends is read
    and dropped here, up to DRAIN_BYTES, so that it gets the answer and its connection stays
    usable; the answer is marked streamed so that functions-framework does not then read
    the rest of the body into memory."""
    headers = {}
    try:
        drained = 0
        while drained < DRAIN_BYTES and (chunk := flask.request.stream.read(CHUNK_SIZE)):
            drained += len(chunk)
    except (ClientDisconnected, OSError, RequestEntityTooLarge):
        headers["Connection"] = "close"  # what is left of the body is not read
    data = body.encode()
    headers["Content-Length"] = str(len(data))
    return flask.Response(iter([data]), status=status, mimetype=mimetype, headers=headers)


def _error(status: int, message: str) -> flask.Response:
    return _refusal(flask.json.dumps({"error": message}), status, "application/json")


def submit(request: flask.Request):
    _limit_reads(request)
    answer = collector().submit(
        dict(request.headers),
        _body(request),
        query=request.args.to_dict(),
        user_agent=request.headers.get("User-Agent", ""),
    )
    if answer.status >= 400:
        return _refusal(answer.body, answer.status, answer.content_type)
    return flask.Response(answer.body, status=answer.status, mimetype=answer.content_type)


def _symbol_call(request: flask.Request, call) -> flask.Response:
    """Run ``call()`` once the token is checked (``Auth-Token`` header or ``?key=``) and
    answer its errors: 401 no token, 403 refused token, 400 bad upload, 404 unknown upload,
    413 too large, 503 a store is down."""
    _limit_reads(request)
    try:
        symbol_uploader().check_token(request.headers.get("Auth-Token") or request.args.get("key"))
        return call()
    except (MalformedCrash, OSError):  # the client stalled, or went away, mid-body
        return _error(400, "the upload stopped before its end")
    except TokenMissing as error:
        return _error(401, str(error))
    except UploadForbidden as error:
        return _error(403, str(error))
    except UploadTooLarge as error:
        return _error(413, str(error))
    except SymbolUploadRefused as error:
        return _error(400, str(error))
    except UploadNotFound as error:
        return _error(404, str(error))
    except SymbolStoreUnavailable as error:
        return _error(503, str(error))


def _v2_answer(**fields: str) -> flask.Response:
    return flask.Response(answer(**fields), mimetype="application/json")


def upload_symbols(request: flask.Request):
    def call():
        status, stored = symbol_uploader().handle(request)
        return flask.jsonify([item.to_json() for item in stored]), status

    return _symbol_call(request, call)


def check_symbol_status(request: flask.Request, debug_file: str, debug_id: str):
    return _symbol_call(request, lambda: _v2_answer(status=sym_upload_v2().check_status(debug_file, debug_id)))


def create_symbol_upload(request: flask.Request):
    def call():
        upload_key = sym_upload_v2().create()
        base = (get_settings().symbols_upload_base_url or request.host_url.rstrip("/") + "/symbols").rstrip("/")
        token = request.headers.get("Auth-Token") or request.args.get("key")
        upload_url = f"{base}/v1/uploads/{upload_key}?key={quote(token, safe='')}"
        return _v2_answer(uploadUrl=upload_url, uploadKey=upload_key)

    return _symbol_call(request, call)


def put_symbol_upload(request: flask.Request, upload_key: str):
    def call():
        size = sym_upload_v2().receive(upload_key, _body(request))
        return flask.jsonify({"size": size})

    return _symbol_call(request, call)


def complete_symbol_upload(request: flask.Request, upload_key: str):
    def call():
        result, _ = sym_upload_v2().complete(upload_key, request.get_data(cache=False))
        return _v2_answer(result=result)

    return _symbol_call(request, call)


class UploadKeyConverter(BaseConverter):
    """An upload key: URL-safe characters, so ``<key>:complete`` splits where it should."""

    regex = r"[A-Za-z0-9_-]+"


# The symbol upload endpoints: crashflow's own and Breakpad's sym-upload-v2 (base URL
# http://<collect>/symbols).
SYMBOL_ROUTES = Map([
    Rule("/symbols/upload", methods=["POST"], endpoint=upload_symbols),
    Rule("/symbols/v1/symbols/<debug_file>/<debug_id>:checkStatus", methods=["GET"], endpoint=check_symbol_status),
    Rule("/symbols/v1/uploads:create", methods=["POST"], endpoint=create_symbol_upload),
    Rule("/symbols/v1/uploads/<upload_key:upload_key>", methods=["PUT"], endpoint=put_symbol_upload),
    Rule("/symbols/v1/uploads/<upload_key:upload_key>:complete", methods=["POST"], endpoint=complete_symbol_upload),
], converters={"upload_key": UploadKeyConverter})


@functions_framework.http
def collect(request: flask.Request):
    if request.path == "/__lbheartbeat__":
        return flask.jsonify({})
    if request.path == "/__version__":
        return flask.jsonify(version_info(get_settings().version_file))
    if request.path == "/__heartbeat__":
        healthy, checks = collector().health()
        return flask.jsonify(checks), 200 if healthy else 503
    if request.path == "/submit" and request.method == "POST":
        return submit(request)
    if request.path.startswith("/symbols/"):
        try:
            endpoint, arguments = SYMBOL_ROUTES.bind_to_environ(request.environ).match()
        except HTTPException as error:
            return _error(error.code or 404, error.description or error.name)
        return endpoint(request, **arguments)
    return _refusal("Not found\n", 404, "text/plain")
