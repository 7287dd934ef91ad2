"""Super Search's default query: a product over a date range, faceted by signature.

That is the search page as it opens (crash-stats' too) and every page of its results:
each counts the range's reports by signature. 0001's ``reports_product_version`` (product,
version, date) cannot narrow a search without a version to its dates, and 0005's
``reports_search_form`` neither, so Postgres read the range's partitions whole. This
index, (product, date_processed) with the version and the signature in its leaves, answers
such a search, and its version facet, from the index alone; it replaces
``reports_product_version``, whose searches (a product and version over dates) it and
``reports_search_form`` both serve, so every processed crash still writes as many index
entries.

EXPLAIN ANALYZE on the UI bench's data set (1M reports over 30 days; 2 cores; serial
plans, load under 1), Firefox's last 7 days (139,806 reports) by signature: 89-167 ms with
a sequential scan of the two partitions, 54-98 ms index-only with this index.

Revision ID: 0012
"""

from alembic import op

revision = "0012"
down_revision = "0011"


def upgrade():
    op.execute("CREATE INDEX reports_product_date ON reports (product, date_processed) INCLUDE (version, signature)")
    op.execute("DROP INDEX reports_product_version")


def downgrade():
    op.execute("CREATE INDEX reports_product_version ON reports (product, version, date_processed)")
    op.execute("DROP INDEX reports_product_date")
