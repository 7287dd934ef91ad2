"""Alert payloads and their delivery to webhooks.

- ``json``: the alert as a JSON object, signed the way common webhook senders sign: header
  ``X-Crashflow-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` with the
  webhook's key; a receiver recomputes it and refuses old timestamps (replays).
- ``slack``: a Slack incoming-webhook message (``text`` plus mrkdwn ``blocks``).

Each delivery is a row of ``alert_deliveries``. A run tries every due delivery a few times
with a short backoff; one still failing (unreachable, a 5xx, a 429) waits longer before the
next run tries it (5 minutes, doubling, at most 6 hours) and is given up after
``MAX_DELIVERY_ROUNDS`` rounds, or at once on any other 4xx answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import time
import urllib.parse

import requests

from crashflow import __version__
from crashflow.alerts.rules import AlertConfig, Webhook
from crashflow.metrics import ALERT_DELIVERIES
from crashflow.retrying import call_with_retries

log = logging.getLogger(__name__)

TRIES_PER_ROUND = 3
FIRST_RETRY_SECONDS = 0.5
MAX_DELIVERY_ROUNDS = 8
ROUND_BACKOFF = dt.timedelta(minutes=5)
MAX_ROUND_BACKOFF = dt.timedelta(hours=6)
# A claimed delivery is not claimed again (by a job running meanwhile) for this long.
CLAIM_LEASE = dt.timedelta(minutes=5)
SIGNATURE_HEADER = "X-Crashflow-Signature"


class DeliveryFailed(Exception):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status

    @property
    def transient(self) -> bool:
        return self.status is None or self.status in (408, 429) or self.status >= 500


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: bytes, header: str, body: bytes, tolerance_seconds: float = 300, now: float | None = None) -> bool:
    """What a receiver checks: the signature matches and its timestamp is recent."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)


def alert_document(alert: dict, public_url: str | None) -> dict:
    """The generic JSON payload of an alert row."""
    document = {
        "id": alert["id"],
        "rule": alert["rule"],
        "kind": alert["kind"],
        "product": alert["product"],
        "version": alert["version"],
        "signature": alert["signature"],
        "day": alert["report_date"].isoformat(),
        "summary": alert["summary"],
        "details": alert["details"],
        "fired_at": alert["fired_at"].isoformat(),
        "sample": alert["sample"],
    }
    if public_url and alert["signature"]:
        from urllib.parse import urlencode

        document["url"] = f"{public_url.rstrip('/')}/signature/?{urlencode({'signature': alert['signature']})}"
    return document


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(document: dict) -> dict:
    summary = slack_escape(document["summary"])
    if document.get("url"):
        summary += f"\n<{document['url']}|Open the signature>"
    prefix = "[sample] " if document["sample"] else ""
    return {
        "text": prefix + document["summary"],
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{prefix}{slack_escape(document['kind'])}* {summary}"}},
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": f"crashflow rule `{slack_escape(document['rule'])}` · {document['day']}"}]},
        ],
    }


def request_for(webhook: Webhook, document: dict, delivery_id: int) -> tuple[bytes, dict]:
    """The body and headers that ``webhook`` gets for ``document``."""
    payload = slack_message(document) if webhook.format == "slack" else document
    body = json.dumps(payload, sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "User-Agent": f"crashflow-alerts/{__version__}",
               "X-Crashflow-Delivery": str(delivery_id), "X-Crashflow-Event": "alert"}
    if webhook.secret:
        headers[SIGNATURE_HEADER] = sign(webhook.secret, body, int(time.time()))
    return body, headers


def send(webhook: Webhook, document: dict, delivery_id: int) -> int:
    """POST to the webhook, again on transient failures; its status, or DeliveryFailed."""

    def attempt() -> int:
        body, headers = request_for(webhook, document, delivery_id)  # signed afresh each try
        try:
            answer = requests.post(webhook.url, data=body, headers=headers, timeout=webhook.timeout_seconds)
        except requests.RequestException as error:
            # Not the error's text: it quotes the URL, and a webhook's URL can be its secret
            # (Slack's is), while GET /api/Alerts/ shows last_error to anyone.
            host = urllib.parse.urlsplit(webhook.url).hostname
            raise DeliveryFailed(f"{type(error).__name__} reaching {host}") from None
        if not 200 <= answer.status_code < 300:
            raise DeliveryFailed(f"HTTP {answer.status_code}: {answer.text[:200]}", answer.status_code)
        return answer.status_code

    return call_with_retries(attempt, TRIES_PER_ROUND, retry_on=lambda error: isinstance(error, DeliveryFailed)
                             and error.transient, first_wait=FIRST_RETRY_SECONDS, max_wait=4)


ALERT_COLUMNS = ("id", "rule", "kind", "product", "version", "signature", "report_date", "summary", "details",
                 "fired_at", "sample")


def deliver_due(connection, config: AlertConfig, public_url: str | None, now: dt.datetime | None = None,
                alert_ids: list[int] | None = None) -> list[dict]:
    """Try every pending delivery that is due (or those of ``alert_ids``); what became of each."""
    now = now or dt.datetime.now(dt.timezone.utc)
    only = "AND d.alert_id = ANY(:ids)" if alert_ids is not None else ""
    claimed = connection.run(f"""
        UPDATE alert_deliveries SET next_attempt_at = :lease
        WHERE id IN (
            SELECT d.id FROM alert_deliveries d
            WHERE d.status = 'pending' AND d.next_attempt_at <= :now {only}
            ORDER BY d.id FOR UPDATE SKIP LOCKED LIMIT 200
        )
        RETURNING id, alert_id, webhook, rounds
    """, now=now, lease=now + CLAIM_LEASE, **({"ids": alert_ids} if alert_ids is not None else {}))
    results = []
    for delivery_id, alert_id, webhook_name, rounds in sorted(claimed):
        row = connection.run(f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts WHERE id = :id", id=alert_id)[0]
        alert = dict(zip(ALERT_COLUMNS, row))
        results.append(_deliver_one(connection, config, public_url, now, delivery_id, alert, webhook_name, rounds))
    return results


def _deliver_one(connection, config, public_url, now, delivery_id, alert, webhook_name, rounds) -> dict:
    known = {webhook.name for webhook in config.webhooks}
    status, http_status, error = "delivered", None, None
    if webhook_name not in known:
        status, error = "failed", "the webhook is no longer configured"
    else:
        try:
            http_status = send(config.webhook(webhook_name), alert_document(alert, public_url), delivery_id)
        except DeliveryFailed as failure:
            http_status, error = failure.status, str(failure)
            gave_up = not failure.transient or rounds + 1 >= MAX_DELIVERY_ROUNDS
            status = "failed" if gave_up else "pending"
    backoff = min(ROUND_BACKOFF * 2**rounds, MAX_ROUND_BACKOFF)
    connection.run("""
        UPDATE alert_deliveries
        SET status = :status, rounds = rounds + 1, last_attempt_at = :now, last_status = :http_status,
            last_error = :error, next_attempt_at = :next, delivered_at = CAST(:delivered_at AS timestamptz)
        WHERE id = :id
    """, status=status, now=now, http_status=http_status, error=error, next=now + backoff, id=delivery_id,
        delivered_at=now if status == "delivered" else None)
    ALERT_DELIVERIES.labels(alert["rule"], "delivered" if status == "delivered" else "failed").inc()
    if status != "delivered":
        log.warning("alert %s to %s: %s (%s)", alert["id"], webhook_name, error, status)
    return {"delivery": delivery_id, "alert": alert["id"], "webhook": webhook_name, "status": status,
            "http_status": http_status, "error": error}
