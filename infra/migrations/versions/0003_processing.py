"""Schema changes of the process function.

Revision ID: 0003
"""

from alembic import op

revision = "0003"
down_revision = "0002"

SCHEMA = """
"""


def upgrade():
    if SCHEMA.strip():
        op.execute(SCHEMA)


def downgrade():
    pass
