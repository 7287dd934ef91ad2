"""query: the Socorro-compatible crash API."""

import functools

import flask
import functions_framework

from crashflow import __version__
from crashflow.api.app import QueryApi
from crashflow.logs import setup_logging
from crashflow.settings import get_settings


@functools.cache
def api() -> QueryApi:
    setup_logging()
    return QueryApi(get_settings())


@functions_framework.http
def query(request: flask.Request):
    # Answered before the API (and its store clients) exists, as collect does.
    if request.path == "/__lbheartbeat__":
        return flask.jsonify({})
    if request.path == "/__version__":
        return flask.jsonify({"version": __version__})
    reply = api().handle(request)
    if isinstance(reply.body, bytes):
        return flask.Response(reply.body, status=reply.status, headers=reply.headers,
                              mimetype="application/octet-stream")
    if isinstance(reply.body, str):  # a web UI page
        return flask.Response(reply.body, status=reply.status, headers=reply.headers, mimetype="text/html")
    return flask.jsonify(reply.body), reply.status, reply.headers
