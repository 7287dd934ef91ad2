"""collect: the HTTP function crash reporters upload to."""

import functools

import flask
import functions_framework

from crashflow import __version__
from crashflow.collector.submit import Collector
from crashflow.logs import setup_logging
from crashflow.settings import get_settings

CHUNK_SIZE = 64 * 1024


@functools.cache
def collector() -> Collector:
    setup_logging()
    return Collector(get_settings())


def _body(request: flask.Request):
    while chunk := request.stream.read(CHUNK_SIZE):
        yield chunk


@functions_framework.http
def collect(request: flask.Request):
    if request.path == "/__lbheartbeat__":
        return flask.jsonify({})
    if request.path == "/__version__":
        return flask.jsonify({"version": __version__})
    if request.path == "/__heartbeat__":
        checks = collector().health()
        return flask.jsonify(checks), 200 if all(checks.values()) else 503
    if request.path != "/submit" or request.method != "POST":
        return flask.Response("Not found\n", status=404, mimetype="text/plain")
    answer = collector().submit(
        dict(request.headers),
        _body(request),
        query=request.args.to_dict(),
        user_agent=request.headers.get("User-Agent", ""),
    )
    return flask.Response(answer.body, status=answer.status, mimetype=answer.content_type)
