"""query: the Socorro-compatible crash API."""

import functools

import flask
import functions_framework

from crashflow.api.app import QueryApi
from crashflow.logs import setup_logging
from crashflow.settings import get_settings


@functools.cache
def api() -> QueryApi:
    setup_logging()
    return QueryApi(get_settings())


@functions_framework.http
def query(request: flask.Request):
    reply = api().handle(request)
    if isinstance(reply.body, bytes):
        return flask.Response(reply.body, status=reply.status, headers=reply.headers,
                              mimetype="application/octet-stream")
    return flask.jsonify(reply.body), reply.status, reply.headers
