"""Schema changes of the query function.

Revision ID: 0005
"""

from alembic import op

revision = "0005"
down_revision = "0004"

SCHEMA = """
"""


def upgrade():
    if SCHEMA.strip():
        op.execute(SCHEMA)


def downgrade():
    pass
