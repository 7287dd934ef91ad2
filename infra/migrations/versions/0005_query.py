"""Schema changes of the query function: indexes SuperSearch needs.

- ``reports_signature_date``: a signature's reports (SuperSearch ``signature=``, the
  signature page) without scanning every report of the window.
- ``reports_product_date_cover``: the commonest searches (a product over some days, by
  version and platform, faceted by signature) read the index alone, not the table
  (index-only scans once autovacuum has marked the pages all-visible).

Revision ID: 0005
"""

from alembic import op

revision = "0005"
down_revision = "0004"

SCHEMA = """
CREATE INDEX reports_signature_date ON reports (signature, date_processed);
CREATE INDEX reports_product_date_cover ON reports (product, date_processed)
    INCLUDE (version, os_name, signature);
"""


def upgrade():
    op.execute(SCHEMA)


def downgrade():
    op.execute("DROP INDEX reports_product_date_cover; DROP INDEX reports_signature_date")
