"""Schema changes of the web UI: ``web_secrets``, keys the query function's instances share
(the one that signs session cookies, made by the first instance that needs it, unless
``CRASHFLOW_WEB_SECRET_KEY`` is set).

Revision ID: 0007
"""

from alembic import op

revision = "0007"
down_revision = "0006"

SCHEMA = """
CREATE TABLE web_secrets (
    name     text        PRIMARY KEY,
    value    text        NOT NULL,
    created  timestamptz NOT NULL DEFAULT now()
);
"""


def upgrade():
    op.execute(SCHEMA)


def downgrade():
    op.execute("DROP TABLE web_secrets")
