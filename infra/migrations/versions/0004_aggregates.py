"""Schema changes of the aggregate function.

Revision ID: 0004
"""

from alembic import op

revision = "0004"
down_revision = "0003"

SCHEMA = """
"""


def upgrade():
    if SCHEMA.strip():
        op.execute(SCHEMA)


def downgrade():
    pass
