"""Spike alerts: rules (``rules``) evaluated over the aggregate tables after the jobs they
read (``evaluate``), raised at most once per rule and signature per window, recorded in
Postgres (``alerts``) and delivered to webhooks (``delivery``, ``alert_deliveries``)."""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging

from crashflow.alerts.delivery import deliver_due
from crashflow.alerts.evaluate import AFTER, Finding, findings
from crashflow.alerts.rules import AlertConfig, InvalidAlertRules, Rule, load_alert_config
from crashflow.metrics import ALERTS_FIRED
from crashflow.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["AlertConfig", "InvalidAlertRules", "configured", "evaluate_after", "send_sample"]


@functools.cache
def configured(source: str | None) -> AlertConfig:
    """The alert rules of the ``alert_rules`` setting, read and checked once per process."""
    return load_alert_config(source)


def record(connection, finding: Finding, now: dt.datetime, sample: bool = False) -> int | None:
    """Store ``finding`` as an alert with one pending delivery per webhook of its rule; its id,
    or None when the rule raised the same alert within its window."""
    rule = finding.rule
    rows = connection.run("""
        INSERT INTO alerts (rule, kind, alert_key, product, version, signature, report_date, summary, details,
                            fired_at, sample)
        SELECT :rule, :kind, :key, :product, :version, :signature, :day, :summary, CAST(:details AS jsonb), :now,
               :sample
        WHERE :sample OR NOT EXISTS (
            SELECT 1 FROM alerts WHERE rule = :rule AND alert_key = :key AND NOT sample AND fired_at > :since
        )
        RETURNING id
    """, rule=rule.name, kind=rule.kind, key=finding.key, product=finding.product, version=finding.version,
        signature=finding.signature, day=finding.day, summary=finding.summary,
        details=json.dumps(finding.details), now=now, sample=sample,
        since=now - dt.timedelta(hours=rule.window_hours))
    if not rows:
        return None
    alert_id = rows[0][0]
    for webhook in rule.webhooks:
        connection.run(
            "INSERT INTO alert_deliveries (alert_id, webhook, next_attempt_at) VALUES (:id, :webhook, :now)",
            id=alert_id, webhook=webhook, now=now)
    if not sample:
        ALERTS_FIRED.labels(rule.name, rule.kind).inc()
    log.info("alert %s (%s): %s", alert_id, rule.name, finding.summary)
    return alert_id


def evaluate_after(job: str, connection, settings: Settings, day: dt.date, now: dt.datetime) -> list[int]:
    """Evaluate the rules that read what ``job`` wrote for ``day``, record what they raise,
    then deliver every due delivery; the new alerts' ids. Runs holding the job's lock, so two
    evaluations of one rule never overlap."""
    config = configured(settings.alert_rules)
    raised = []
    for rule in config.rules:
        if AFTER[rule.kind] != job:
            continue
        for finding in findings(connection, rule, day, settings):
            alert_id = record(connection, finding, now)
            if alert_id is not None:
                raised.append(alert_id)
    if config.webhooks:
        deliver_due(connection, config, settings.public_url, now)
    return raised


SAMPLES = {
    "new_signature": ("MyApp", "sample::NewSignature", None, {"position": 3, "crashes": 120}),
    "explosive": ("MyApp", "sample::Explosive", None, {"oneday": 9.5, "threeday": 4.2, "crashes": 480}),
    "regression": ("MyApp", "sample::Regression", None, {"versions": ["2.0"], "quiet_days": 21, "crashes": 35}),
    "crash_rate": ("MyApp", None, "2.0", {"crashes": 5000, "baseline_mean": 1200.0, "ratio": 4.2}),
}


def send_sample(connection, settings: Settings, rule_name: str) -> list[dict]:
    """Record a sample alert of rule ``rule_name`` and deliver it now (``crashflow alerts
    test``); what became of each delivery."""
    config = configured(settings.alert_rules)
    rule: Rule = config.rule(rule_name)
    product, signature, version, details = SAMPLES[rule.kind]
    now = dt.datetime.now(dt.timezone.utc)
    finding = Finding(rule, rule.products[0] if rule.products else product, signature, version, now.date(),
                      f"[sample] a {rule.kind.replace('_', ' ')} alert of rule {rule.name}", details)
    alert_id = record(connection, finding, now, sample=True)
    return deliver_due(connection, config, settings.public_url, now, alert_ids=[alert_id])
