"""The query function's JSON encoding (orjson) gives what flask.jsonify gives, including
for what orjson cannot take itself."""

import datetime as dt
import decimal
import importlib.util
import json
from pathlib import Path

import flask
import pytest

MAIN = Path(__file__).resolve().parents[2] / "functions" / "query" / "main.py"


@pytest.fixture(scope="module")
def query_main():
    spec = importlib.util.spec_from_file_location("query_main_under_test", MAIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("body", [
    {"uuid": "x", "json_dump": {"modules": [{"base_addr": "0x1", "loaded": True}]}, "n": 1.5, "none": None},
    {"date": dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.timezone.utc), "day": dt.date(2026, 11, 26)},
    {"count": decimal.Decimal("12.5"), "text": "ünïcode \u2028"},
    {"huge": 2**70},  # over 64 bits: orjson refuses, flask.jsonify answers
    [1, 2, {"b": 1, "a": 2}],
])
def test_json_response_matches_flask_jsonify(query_main, body):
    app = flask.Flask("encoding")
    with app.test_request_context():
        ours = query_main.json_response(body, 201, {"X-Test": "1"})
        theirs = flask.jsonify(body)
    assert ours.status_code == 201
    assert ours.headers["X-Test"] == "1"
    assert ours.mimetype == "application/json"
    assert json.loads(ours.get_data()) == json.loads(theirs.get_data())


def test_json_response_still_refuses_what_flask_refuses(query_main):
    app = flask.Flask("encoding")
    with app.test_request_context(), pytest.raises(TypeError):
        query_main.json_response({"when": dt.time(9, 30)}, 200, {})
