"""Alert rules as configuration: what is refused at start-up, and the webhook signature."""

import hashlib
import hmac
import json

import pytest

from crashflow.alerts.delivery import alert_document, request_for, sign, slack_message, verify
from crashflow.alerts.rules import InvalidAlertRules, load_alert_config

HOOK = {"name": "h", "url": "http://127.0.0.1:9/hook"}


def rules(*items, webhooks=(HOOK,)):
    return json.dumps({"webhooks": list(webhooks), "rules": list(items)})


def test_empty_means_no_rules():
    assert load_alert_config("").rules == [] and load_alert_config(None).webhooks == []


def test_a_file_and_inline_yaml(tmp_path):
    path = tmp_path / "alerts.yaml"
    path.write_text("webhooks:\n  - {name: h, url: 'http://127.0.0.1:9/'}\nrules:\n"
                    "  - {name: spike, kind: crash_rate, factor: 3, webhooks: [h], channels: [beta]}\n")
    from_file = load_alert_config(str(path))
    assert load_alert_config(path.read_text()) == from_file
    (rule,) = from_file.rules
    assert (rule.kind, rule.factor, rule.baseline_days, rule.window_hours, rule.scoped_by_version) == (
        "crash_rate", 3, 7, 24, True)


@pytest.mark.parametrize("document, message", [
    (rules({"name": "r", "kind": "explosive", "webhooks": ["nope"]}), "unknown webhook(s) nope"),
    (rules({"name": "r", "kind": "explosive", "webhooks": ["h"]}, {"name": "r", "kind": "regression", "webhooks": ["h"]}),
     "rule names must be unique: r"),
    (rules({"name": "r", "kind": "sometimes", "webhooks": ["h"]}), "does not match any of the expected tags"),
    (rules({"name": "r", "kind": "crash_rate", "factor": 0.5, "webhooks": ["h"]}), "greater than 1"),
    (rules({"name": "r", "kind": "explosive", "webhooks": ["h"], "typo": 1}), "Extra inputs are not permitted"),
    (rules({"name": "bad name", "kind": "explosive", "webhooks": ["h"]}), "should match pattern"),
    (rules(webhooks=[{"name": "h", "url": "ftp://x"}]), "should match pattern"),
    (rules(webhooks=[{"name": "h", "url": "http://127.0.0.1:9/", "secret_env": "ALERTS_UNSET_SECRET"}]),
     "ALERTS_UNSET_SECRET (its signing key) is not set"),
    ("rules: [\n", "not YAML/JSON"),
    ("/no/such/alerts.yaml", "cannot read alert rules"),
])
def test_bad_rules_are_refused_with_the_reason(document, message):
    with pytest.raises(InvalidAlertRules, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_alert_config(document)


def test_signature_is_hmac_sha256_of_timestamp_and_body():
    body = b'{"rule": "x"}'
    header = sign(b"key", body, 1_700_000_000)
    assert header == "t=1700000000,v1=" + hmac.new(b"key", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert verify(b"key", header, body, now=1_700_000_100)
    assert not verify(b"key", header, body + b" ", now=1_700_000_100)
    assert not verify(b"other", header, body, now=1_700_000_100)
    assert not verify(b"key", header, body, now=1_700_001_000)  # too old: a replay
    assert not verify(b"key", "garbage", body)


def test_slack_message_escapes_what_slack_would_read_as_markup(monkeypatch):
    import datetime as dt

    monkeypatch.setenv("HOOK_SECRET", "s")
    alert = {"id": 7, "rule": "r", "kind": "explosive", "product": "P", "version": None,
             "signature": "std::vector<int>::at & more", "report_date": dt.date(2026, 11, 30),
             "summary": "Explosive signature in P: std::vector<int>::at & more", "details": {},
             "fired_at": dt.datetime(2026, 11, 30, 12, tzinfo=dt.timezone.utc), "sample": False}
    document = alert_document(alert, "https://crash.example.com/")
    assert document["url"] == "https://crash.example.com/signature/?signature=std%3A%3Avector%3Cint%3E%3A%3Aat+%26+more"
    message = slack_message(document)
    assert message["text"] == alert["summary"]
    assert "std::vector&lt;int&gt;::at &amp; more" in message["blocks"][0]["text"]["text"]
    config = load_alert_config(rules(webhooks=[{**HOOK, "secret_env": "HOOK_SECRET"}]))
    body, headers = request_for(config.webhook("h"), document, 1)
    assert json.loads(body) == document and verify(b"s", headers["X-Crashflow-Signature"], body)


def test_a_failed_delivery_does_not_record_the_webhooks_url(monkeypatch):
    """last_error is shown by GET /api/Alerts/ to anyone: a webhook's URL (Slack's holds
    its secret) must not be in it."""
    from crashflow.alerts import delivery
    from crashflow.alerts.rules import Webhook

    monkeypatch.setattr(delivery, "FIRST_RETRY_SECONDS", 0.01)
    webhook = Webhook(name="hook", url="http://127.0.0.1:9/services/T0/B0/s3cr3tT0ken",
                      timeout_seconds=1)
    with pytest.raises(delivery.DeliveryFailed) as failed:
        delivery.send(webhook, {"summary": "x"}, 1)
    assert "s3cr3tT0ken" not in str(failed.value) and "/services" not in str(failed.value)
    assert str(failed.value) == "ConnectionError reaching 127.0.0.1"
