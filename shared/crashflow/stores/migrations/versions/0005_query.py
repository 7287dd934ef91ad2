"""Schema changes of the query function: the one index SuperSearch's commonest search needs.

``reports_search_form``: the search form's (and the benchmark's) filters — product, version
and platform over a date range (weekly partitions do the coarse date pruning) — faceted by
signature, read from the index alone (index-only scans once autovacuum has marked the pages
all-visible).

Every processed crash pays for every index on ``reports``, so there are no others: EXPLAIN
ANALYZE over 200,000 reportgen rows over 30 days (load average ~3, 2 cores) gave

- 7 days, product+version+platform, signature facet: index-only on this index, 13-22 ms;
- a product alone over 7 days: 16-28 ms with a (product, date) covering index, 36 ms
  with a sequential scan of the week's partitions — not worth a second index;
- a signature over 7 days: 0.08 ms with a (signature, date) index, 2-3 ms index-only on
  0001's ``reports_date_signature`` — good enough without one;
- the 30-day histogram uses 0001's ``reports_product_version`` either way.

Revision ID: 0005
"""

from alembic import op

revision = "0005"
down_revision = "0004"

SCHEMA = """
CREATE INDEX reports_search_form ON reports (product, version, os_name, date_processed)
    INCLUDE (signature);
"""


def upgrade():
    op.execute(SCHEMA)


def downgrade():
    op.execute("DROP INDEX reports_search_form")
