"""Alert rules and the webhooks they go to, from ``CRASHFLOW_ALERT_RULES`` (a YAML or JSON
file, or the document itself), validated with pydantic when the aggregate function starts:

    webhooks:
      - name: triage
        url: https://hooks.example.com/crashflow
        format: json                 # HMAC-SHA256 signed (secret_env names the variable
        secret_env: TRIAGE_SECRET    # that holds the key)
      - name: slack
        url: https://hooks.slack.com/services/T000/B000/XXXX
        format: slack                # Slack's incoming-webhook message
    rules:
      - name: new-top-crasher
        kind: new_signature          # first seen within new_days, now in the top N
        top: 10
        new_days: 3
        products: [MyApp]
        webhooks: [triage, slack]
      - name: explosive
        kind: explosive              # the explosiveness job's score over the threshold
        threshold: 3
        score: oneday                # or threeday
        webhooks: [triage]
      - name: regression
        kind: regression             # no crashes for quiet_days days, and back
        quiet_days: 14
        webhooks: [triage]
      - name: crash-rate
        kind: crash_rate             # crashes per day over factor x the baseline's mean
        factor: 2
        baseline_days: 7
        per_version: true
        channels: [release]
        webhooks: [slack]

Every rule may be limited to ``products``, ``versions`` and ``channels`` (a channel stands
for the versions whose crashes of the day report it), needs ``min_crashes`` crashes on the
day (default 10), and fires once per signature (or product and version, for crash rates)
per ``window_hours`` (default 24).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crashflow.trends import EXPLOSIVE_THRESHOLD, QUIET_DAYS


class InvalidAlertRules(ValueError):
    """The alert rules (or webhooks) cannot be used; the message says why."""


class Webhook(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://")
    format: Literal["json", "slack"] = "json"
    # The environment variable holding the HMAC key of json webhooks (none: unsigned).
    secret_env: str | None = None
    timeout_seconds: float = Field(default=10, gt=0)

    @model_validator(mode="after")
    def _secret_is_set(self):
        if self.secret_env is not None and not os.environ.get(self.secret_env):
            raise ValueError(f"webhook {self.name}: variable {self.secret_env} (its signing key) is not set")
        if self.secret_env is not None and self.format != "json":
            raise ValueError(f"webhook {self.name}: only json webhooks are signed (Slack's URL is its secret)")
        return self

    @property
    def secret(self) -> bytes | None:
        return os.environ[self.secret_env].encode() if self.secret_env else None


class RuleBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    webhooks: list[str] = Field(min_length=1)
    products: list[str] = []
    versions: list[str] = []
    channels: list[str] = []
    min_crashes: int = Field(default=10, ge=1)
    window_hours: float = Field(default=24, gt=0)

    @property
    def scoped_by_version(self) -> bool:
        return bool(self.versions or self.channels)


class NewSignatureRule(RuleBase):
    kind: Literal["new_signature"]
    top: int = Field(default=10, ge=1, le=1000)
    new_days: int = Field(default=3, ge=1, le=365)


class ExplosiveRule(RuleBase):
    kind: Literal["explosive"]
    threshold: float = Field(default=EXPLOSIVE_THRESHOLD, gt=0)
    score: Literal["oneday", "threeday"] = "oneday"


class RegressionRule(RuleBase):
    kind: Literal["regression"]
    quiet_days: int = Field(default=QUIET_DAYS, ge=1, le=365)


class CrashRateRule(RuleBase):
    kind: Literal["crash_rate"]
    factor: float = Field(default=2, gt=1)
    baseline_days: int = Field(default=7, ge=1, le=90)
    per_version: bool = False


Rule = Annotated[NewSignatureRule | ExplosiveRule | RegressionRule | CrashRateRule, Field(discriminator="kind")]


class AlertConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    webhooks: list[Webhook] = []
    rules: list[Rule] = []

    @model_validator(mode="after")
    def _names(self):
        for what, names in (("webhook", [w.name for w in self.webhooks]), ("rule", [r.name for r in self.rules])):
            duplicates = sorted({name for name in names if names.count(name) > 1})
            if duplicates:
                raise ValueError(f"{what} names must be unique: {', '.join(duplicates)}")
        known = {webhook.name for webhook in self.webhooks}
        for rule in self.rules:
            unknown = [name for name in rule.webhooks if name not in known]
            if unknown:
                raise ValueError(f"rule {rule.name}: unknown webhook(s) {', '.join(unknown)}")
        return self

    def rule(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise InvalidAlertRules(f"no alert rule {name!r}; rules: {', '.join(r.name for r in self.rules) or 'none'}")

    def webhook(self, name: str) -> Webhook:
        return next(webhook for webhook in self.webhooks if webhook.name == name)


def load_alert_config(source: str | None) -> AlertConfig:
    """The rules of ``source``: a file path, or the YAML/JSON document itself (a value
    with a line break or starting with ``{``); empty: no rules."""
    if not source or not source.strip():
        return AlertConfig()
    inline = "\n" in source or source.lstrip().startswith("{")
    try:
        text = source if inline else Path(source).read_text()
    except OSError as error:
        raise InvalidAlertRules(f"cannot read alert rules {source!r}: {error}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidAlertRules(f"alert rules are not YAML/JSON: {error}") from None
    try:
        return AlertConfig.model_validate(data or {})
    except ValidationError as error:
        raise InvalidAlertRules(f"invalid alert rules: {error}") from None
