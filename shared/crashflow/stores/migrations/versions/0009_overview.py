"""The web UI's overview: token management (``token_events``, the audit trail of every token
made or revoked: who did it — the acting token's id, none from the command line —, when,
what; and ``api_tokens.created_by``), startup crashes (uptime under a minute) counted in
the top-crasher tables (``startup_count``; days aggregated before count 0 until the
top_crashers job runs them again).

Revision ID: 0009
"""

from alembic import op

revision = "0009"
down_revision = "0008"

SCHEMA = """
ALTER TABLE api_tokens ADD COLUMN created_by bigint REFERENCES api_tokens (id);

CREATE TABLE token_events (
    id        bigserial   PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    actor_id  bigint      REFERENCES api_tokens (id),
    action    text        NOT NULL CHECK (action IN ('create', 'revoke')),
    token_id  bigint      NOT NULL REFERENCES api_tokens (id),
    details   jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX token_events_at ON token_events (at DESC);

ALTER TABLE top_crashers ADD COLUMN startup_count integer NOT NULL DEFAULT 0;
ALTER TABLE top_crashers_by_product ADD COLUMN startup_count integer NOT NULL DEFAULT 0;
ALTER TABLE top_crashers_7_days ADD COLUMN startup_count integer NOT NULL DEFAULT 0;
"""


def upgrade():
    op.execute(SCHEMA)


def downgrade():
    op.execute("DROP TABLE token_events; ALTER TABLE api_tokens DROP COLUMN created_by")
    for table in ("top_crashers", "top_crashers_by_product", "top_crashers_7_days"):
        op.execute(f"ALTER TABLE {table} DROP COLUMN startup_count")
