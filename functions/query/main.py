"""query: the Socorro-compatible crash API and the web UI."""

import functools

import flask
import functions_framework
import orjson

from crashflow.logs import setup_logging
from crashflow.metrics import standard_endpoint
from crashflow.query_app import QueryApp, endpoint_label
from crashflow.settings import get_settings
from crashflow.version import version_info


# orjson encodes a processed crash (~15 KB) about ten times faster than flask.jsonify; the
# passthrough options hand dates and dataclasses to flask's own encoder so they come out as
# before. Anything orjson cannot take (an integer over 64 bits) goes to flask.jsonify.
ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_response(body, status: int, headers) -> flask.Response:
    try:
        data = orjson.dumps(body, default=flask.current_app.json.default, option=ORJSON_OPTIONS)
    except TypeError:
        return flask.make_response(flask.jsonify(body), status, headers)
    return flask.Response(data + b"\n", status=status, headers=headers, mimetype="application/json")


# Read (and so validate: public annotations, protected fields) the settings at start-up.
SETTINGS = get_settings()
# Pages render in Python, one thread at a time in a process: with one process, concurrent
# page views wait for each other's rendering while cores idle (``crashflow serve`` reads this).
GUNICORN_WORKERS = SETTINGS.query_workers


def request_endpoint(request: flask.Request) -> str:
    """The endpoint label of the request metrics: the API route or page (a bounded set)."""
    return endpoint_label(request.path) or standard_endpoint(request.path)


@functools.cache
def application() -> QueryApp:
    setup_logging()
    return QueryApp(SETTINGS)


@functions_framework.http
def query(request: flask.Request):
    # Answered before the application (and its store clients) exists, as collect does.
    if request.path == "/__lbheartbeat__":
        return flask.jsonify({})
    if request.path == "/__version__":
        return flask.jsonify(version_info(get_settings().version_file))
    reply = application().respond(request)
    # A page, a file, a download or a file streamed from a store: its Content-Type is set.
    if isinstance(reply.body, (bytes, str)) or hasattr(reply.body, "__next__"):
        return flask.Response(reply.body, status=reply.status, headers=reply.headers)
    return json_response(reply.body, reply.status, reply.headers)
