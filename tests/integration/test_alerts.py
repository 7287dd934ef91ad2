"""Spike alerts on real Postgres: rules evaluated after the jobs they read, delivered to a
local webhook receiver (HMAC-signed JSON, Slack's format), once per rule and signature per
window, every delivery recorded and served at ``GET /api/Alerts/``.

Reports are written straight into ``reports`` of a namespace of this module's own (the jobs
rebuild whole days), for a product no other test uses."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from conftest import REPO, FunctionServer, free_port
from crashflow import alerts, cli
from crashflow.aggregation.runner import run_job
from crashflow.alerts.delivery import deliver_due
from crashflow.crashids import create_crash_id
from crashflow.stores.factory import Stores

pytestmark = pytest.mark.integration

UTC = dt.timezone.utc
SECRET = "receiver-shared-secret"


class Receiver(ThreadingHTTPServer):
    """A webhook endpoint on 127.0.0.1: keeps what it gets, answers ``statuses`` in turn (then 200)."""

    def __init__(self):
        self.received: list[tuple[str, dict, bytes]] = []
        self.statuses: list[int] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(handler):
                body = handler.rfile.read(int(handler.headers["Content-Length"]))
                self.received.append((handler.path, dict(handler.headers), body))
                status = self.statuses.pop(0) if self.statuses else 200
                handler.send_response(status)
                handler.send_header("Content-Length", "2")
                handler.end_headers()
                handler.wfile.write(b"ok")

            def log_message(handler, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def bodies(self, path: str) -> list[dict]:
        return [json.loads(body) for got, _, body in self.received if got == path]


@pytest.fixture(scope="module")
def receiver():
    server = Receiver()
    yield server
    server.shutdown()


def rules_document(receiver: Receiver, product: str, beta_product: str) -> str:
    return json.dumps({
        "webhooks": [
            {"name": "signed", "url": receiver.url("/signed"), "format": "json", "secret_env": "ALERTS_TEST_SECRET"},
            {"name": "slack", "url": receiver.url("/slack"), "format": "slack"},
            {"name": "flaky", "url": receiver.url("/flaky"), "format": "json"},
        ],
        "rules": [
            {"name": "explosive", "kind": "explosive", "threshold": 3, "products": [product],
             "webhooks": ["signed", "slack"]},
            {"name": "new-in-top", "kind": "new_signature", "top": 3, "new_days": 2, "products": [product],
             "webhooks": ["signed"]},
            {"name": "regression", "kind": "regression", "quiet_days": 5, "min_crashes": 3, "products": [product],
             "webhooks": ["signed"]},
            {"name": "beta-rate", "kind": "crash_rate", "factor": 2, "baseline_days": 7, "per_version": True,
             "products": [beta_product], "channels": ["beta"], "webhooks": ["signed"]},
            {"name": "flaky-delivery", "kind": "explosive", "threshold": 3, "products": [product],
             "webhooks": ["flaky"]},
        ],
    })


@pytest.fixture(scope="module")
def alert_stack(settings, receiver):
    from crashflow.provision import provision
    from crashflow.stores import postgres

    product, beta_product = "AlertApp", "BetaApp"
    own = settings.model_copy(update={
        "namespace": f"{settings.namespace}alerts", "explosiveness_floor": 1.0,
        "alert_rules": rules_document(receiver, product, beta_product)})
    admin = postgres.connect(own, database="postgres")
    try:
        admin.run(f"DROP DATABASE IF EXISTS {own.database} WITH (FORCE)")
    finally:
        admin.close()
    provision(own)
    os.environ["ALERTS_TEST_SECRET"] = SECRET
    alerts.configured.cache_clear()
    yield own, product, beta_product
    alerts.configured.cache_clear()


def reports_for(day: dt.date, product: str, signature: str, count: int, version: str = "1.0",
                channel: str = "release") -> list[dict]:
    rows = []
    for n in range(count):
        when = dt.datetime.combine(day, dt.time(0, 30), UTC) + dt.timedelta(seconds=n)
        rows.append({"uuid": create_crash_id(when), "date_processed": when, "product": product, "version": version,
                     "release_channel": channel, "os_name": "Windows NT", "process_type": "parent",
                     "report_type": "crash", "build": "20261101000000", "signature": signature})
    return rows


def test_rules_raise_each_alert_once_and_deliver_it(alert_stack, receiver):
    settings, product, beta_product = alert_stack
    stores = Stores.from_settings(settings, "jobs")
    database = stores.reports
    today = dt.datetime.now(UTC).date()
    days = [today - dt.timedelta(days=n) for n in range(9, -1, -1)]
    rows = []
    for day in days:
        rows += reports_for(day, product, "steady::crash", 5)
        rows += reports_for(day, beta_product, "beta::crash", 4, version="2.0b1", channel="beta")
    rows += reports_for(today, product, "boom::explodes", 60)  # never crashed before: explodes and is new
    rows += reports_for(days[0], product, "old::regresses", 4)  # 9 days ago, then quiet,
    rows += reports_for(today, product, "old::regresses", 4)  # and back today
    rows += reports_for(today, beta_product, "beta::crash", 30, version="2.0b1", channel="beta")  # 34: 8.5x
    rows += reports_for(today, beta_product, "release::crash", 40, version="1.9", channel="release")
    for row in rows:
        database.upsert_report(row)
    receiver.statuses = []
    flaky_before = len(receiver.bodies("/flaky"))

    for job in ("crashes_per_day", "top_crashers", "signatures", "explosiveness"):
        run = run_job(stores, job, days[0], today)
        assert (run.status, run.error) == ("ok", None), job

    signed = receiver.bodies("/signed")
    by_rule = {}
    for body in signed:
        by_rule.setdefault(body["rule"], []).append((body["product"], body["signature"] or body["version"]))
    assert by_rule == {
        "explosive": [(product, "boom::explodes")],
        "new-in-top": [(product, "boom::explodes")],
        "regression": [(product, "old::regresses")],
        # Only the beta channel's version: 1.9 (release) has no baseline, and is not beta.
        "beta-rate": [(beta_product, "2.0b1")],
    }
    explosive = next(body for body in signed if body["rule"] == "explosive")
    assert explosive["kind"] == "explosive" and explosive["day"] == today.isoformat()
    assert explosive["details"]["crashes"] == 60 and explosive["details"]["oneday"] >= 3
    regression = next(body for body in signed if body["rule"] == "regression")
    assert regression["details"]["versions"] == ["1.0"] and regression["details"]["quiet_days"] == 8
    assert "1.0" in regression["summary"]

    # Signed as receivers check it: HMAC-SHA256 over "<timestamp>.<body>" with the shared key.
    for path, headers, body in receiver.received:
        if path == "/signed":
            fields = dict(item.split("=", 1) for item in headers["X-Crashflow-Signature"].split(","))
            expected = hmac.new(SECRET.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
            assert fields["v1"] == expected
            assert abs(int(fields["t"]) - dt.datetime.now(UTC).timestamp()) < 120
    # Slack's incoming-webhook format.
    (slack,) = receiver.bodies("/slack")
    assert "boom::explodes" in slack["text"] and slack["blocks"][0]["type"] == "section"
    assert len(receiver.bodies("/flaky")) == flaky_before + 1

    # The same jobs again, within the window: nothing new is raised or sent.
    received = len(receiver.received)
    for job in ("crashes_per_day", "top_crashers", "signatures", "explosiveness"):
        assert run_job(stores, job).status == "ok"
    assert len(receiver.received) == received
    with database.connection() as connection:
        counts = dict(connection.run("SELECT rule, count(*) FROM alerts WHERE NOT sample GROUP BY rule"))
    assert counts == {"explosive": 1, "new-in-top": 1, "regression": 1, "beta-rate": 1, "flaky-delivery": 1}


def test_failed_deliveries_are_retried_with_backoff_and_recorded(alert_stack, receiver):
    settings, product, _ = alert_stack
    database = Stores.from_settings(settings, "jobs").reports
    config = alerts.configured(settings.alert_rules)
    with database.connection() as connection:
        (alert_id,) = connection.run("SELECT id FROM alerts WHERE rule = 'flaky-delivery'")[0]
        connection.run("UPDATE alert_deliveries SET status = 'pending', rounds = 0, next_attempt_at = now() "
                       "WHERE alert_id = :id", id=alert_id)
        before = len(receiver.bodies("/flaky"))
        # A round: three tries with a short backoff; two 503s, then delivered.
        receiver.statuses = [503, 503]
        (result,) = deliver_due(connection, config, None)
        assert (result["status"], result["http_status"]) == ("delivered", 200)
        assert len(receiver.bodies("/flaky")) == before + 3

        # Still failing after a round: pending, due again later (not at the next run).
        connection.run("UPDATE alert_deliveries SET status = 'pending', next_attempt_at = now() WHERE alert_id = :id",
                       id=alert_id)
        receiver.statuses = [503, 503, 503]
        now = dt.datetime.now(UTC)
        (result,) = deliver_due(connection, config, None, now)
        assert (result["status"], result["http_status"]) == ("pending", 503)
        assert deliver_due(connection, config, None, now + dt.timedelta(minutes=1)) == []
        (later,) = deliver_due(connection, config, None, now + dt.timedelta(hours=1))
        assert later["status"] == "delivered"

        # A 4xx other than 408/429 is not retried.
        connection.run("UPDATE alert_deliveries SET status = 'pending', next_attempt_at = now() WHERE alert_id = :id",
                       id=alert_id)
        receiver.statuses = [410]
        sent = len(receiver.bodies("/flaky"))
        (result,) = deliver_due(connection, config, None)
        assert (result["status"], result["http_status"]) == ("failed", 410)
        assert len(receiver.bodies("/flaky")) == sent + 1
        rounds, status, error = connection.run(
            "SELECT rounds, status, last_error FROM alert_deliveries WHERE alert_id = :id", id=alert_id)[0]
    assert status == "failed" and "HTTP 410" in error and rounds >= 4


def test_alerts_api_lists_alerts_with_their_deliveries(alert_stack, receiver):
    settings, product, _ = alert_stack
    server = FunctionServer("query", free_port(), {**os.environ, "CRASHFLOW_NAMESPACE": settings.namespace})
    try:
        server.wait_ready()
        answer = requests.get(server.url + "/api/Alerts/", params={"rule": "explosive"}, timeout=30)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["total"] == 1
        (hit,) = body["hits"]
        assert (hit["kind"], hit["product"], hit["signature"]) == ("explosive", product, "boom::explodes")
        assert sorted((d["webhook"], d["status"]) for d in hit["deliveries"]) == [
            ("signed", "delivered"), ("slack", "delivered")]
        everything = requests.get(server.url + "/api/Alerts/", timeout=30).json()
        assert everything["total"] == 5 and not any(hit["sample"] for hit in everything["hits"])
        today = dt.datetime.now(UTC).date()
        assert requests.get(server.url + "/api/Alerts/", params={"to_date": str(today - dt.timedelta(days=1))},
                            timeout=30).json()["total"] == 0
        assert requests.get(server.url + "/api/Alerts/", params={"bogus": "1"}, timeout=30).status_code == 400
        assert requests.get(server.url + "/api/Alerts/", params={"from_date": "nope"}, timeout=30).status_code == 400
    finally:
        server.stop()


def test_alerts_test_command_sends_a_sample(alert_stack, receiver, monkeypatch):
    settings, product, _ = alert_stack
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    before = len(receiver.bodies("/signed"))
    result = CliRunner().invoke(cli.main, ["alerts", "test", "--rule", "regression"])
    assert result.exit_code == 0, result.output
    assert "signed: delivered" in result.output
    (sample,) = receiver.bodies("/signed")[before:]
    assert sample["sample"] is True and sample["rule"] == "regression" and sample["product"] == product
    assert CliRunner().invoke(cli.main, ["alerts", "test", "--rule", "nope"]).exit_code != 0


def test_bad_alert_rules_stop_the_aggregate_function_at_start_up(tmp_path):
    rules = {"webhooks": [{"name": "a", "url": "http://127.0.0.1:9/x"}],
             "rules": [{"name": "r", "kind": "explosive", "webhooks": ["missing"]}]}
    server = subprocess.run(
        [str(Path(sys.executable).parent / "crashflow"), "serve", "--source", str(REPO / "functions" / "aggregate" / "main.py"),
         "--target", "aggregate", "--host", "127.0.0.1", "--port", str(free_port())],
        env=dict(os.environ, CRASHFLOW_ALERT_RULES=json.dumps(rules)), capture_output=True, text=True, timeout=60,
    )
    assert server.returncode != 0
    assert "InvalidAlertRules" in server.stderr and "unknown webhook(s) missing" in server.stderr
