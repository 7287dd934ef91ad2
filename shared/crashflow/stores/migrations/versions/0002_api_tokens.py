"""API tokens: hashed, with permissions and an optional expiry.

Revision ID: 0002
"""

from alembic import op

revision = "0002"
down_revision = "0001"

SCHEMA = """
CREATE TABLE api_tokens (
    id           bigserial   PRIMARY KEY,
    token_hash   text        NOT NULL UNIQUE,
    permissions  text[]      NOT NULL DEFAULT '{}',
    note         text        NOT NULL DEFAULT '',
    created      timestamptz NOT NULL DEFAULT now(),
    expires      timestamptz,
    revoked      timestamptz
);
"""


def upgrade():
    op.execute(SCHEMA)


def downgrade():
    op.execute("DROP TABLE api_tokens")
