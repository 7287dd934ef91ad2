"""Schema changes of the query function: indexes SuperSearch needs.

- ``reports_signature_date``: a signature's reports (SuperSearch ``signature=``, the
  signature page) without scanning every report of the window.

Revision ID: 0005
"""

from alembic import op

revision = "0005"
down_revision = "0004"

SCHEMA = """
CREATE INDEX reports_signature_date ON reports (signature, date_processed);
"""


def upgrade():
    op.execute(SCHEMA)


def downgrade():
    op.execute("DROP INDEX reports_signature_date")
