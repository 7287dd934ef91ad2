"""Spike alerts: what the alert rules raised (``alerts``) and each delivery of it to a
webhook (``alert_deliveries``), read by ``GET /api/Alerts/``.

- ``alerts.alert_key`` is what makes two alerts of a rule "the same" (product and signature,
  or product and version for crash rates): a rule raises it again only after its window.
  Samples (``crashflow alerts test``) are kept too, flagged, and never suppress a real alert.
- ``alert_deliveries``: one row per alert and webhook, ``pending`` until ``delivered`` or
  ``failed`` (given up), with the rounds tried, the last answer and when it is due again.
- ``top_crashers_by_product (product, signature, report_date)``: the regression rule asks,
  for each signature crashing today, when it last crashed before.

Revision ID: 0006
"""

from alembic import op

revision = "0006"
down_revision = "0005"

SCHEMA = """
CREATE TABLE alerts (
    id           bigserial   PRIMARY KEY,
    rule         text        NOT NULL,
    kind         text        NOT NULL,
    alert_key    text        NOT NULL,
    product      text        NOT NULL,
    version      text,
    signature    text,
    report_date  date        NOT NULL,
    summary      text        NOT NULL,
    details      jsonb       NOT NULL DEFAULT '{}',
    fired_at     timestamptz NOT NULL DEFAULT now(),
    sample       boolean     NOT NULL DEFAULT false
);
CREATE INDEX alerts_rule_key_fired ON alerts (rule, alert_key, fired_at);
CREATE INDEX alerts_fired ON alerts (fired_at);

CREATE TABLE alert_deliveries (
    id               bigserial   PRIMARY KEY,
    alert_id         bigint      NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    webhook          text        NOT NULL,
    status           text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    rounds           integer     NOT NULL DEFAULT 0,
    last_attempt_at  timestamptz,
    last_status      integer,
    last_error       text,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz
);
CREATE INDEX alert_deliveries_alert ON alert_deliveries (alert_id);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE status = 'pending';

CREATE INDEX top_crashers_by_product_signature ON top_crashers_by_product (product, signature, report_date);
"""


def upgrade():
    op.execute(SCHEMA)


def downgrade():
    op.execute("DROP INDEX top_crashers_by_product_signature; DROP TABLE alert_deliveries, alerts")
