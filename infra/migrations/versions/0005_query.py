"""Schema changes of the query function: indexes SuperSearch needs.

- ``reports_signature_date``: a signature's reports (SuperSearch ``signature=``, the
  signature page) without scanning every report of the window.
- ``reports_product_date_cover``: the commonest searches (a product over some days, by
  version and platform, faceted by signature) read the index alone, not the table
  (index-only scans once autovacuum has marked the pages all-visible).
- ``reports_search_form``: the filters of the search form (product, version, platform)
  over a date range, faceted by signature, from the index alone.

Revision ID: 0005
"""

from alembic import op

revision = "0005"
down_revision = "0004"

SCHEMA = """
CREATE INDEX reports_signature_date ON reports (signature, date_processed);
CREATE INDEX reports_product_date_cover ON reports (product, date_processed)
    INCLUDE (version, os_name, signature);
CREATE INDEX reports_search_form ON reports (product, version, os_name, date_processed)
    INCLUDE (signature);
"""


def upgrade():
    op.execute(SCHEMA)


def downgrade():
    op.execute("DROP INDEX reports_search_form, reports_product_date_cover, reports_signature_date")
