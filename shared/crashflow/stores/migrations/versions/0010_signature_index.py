"""The signature page's index: ``reports (signature, date_processed)``.

Every tab of the signature page (and any search by signature) reads one signature's
reports over a date range. 0001's ``reports_date_signature`` (date first) made Postgres
read every report of the range to find them, or scan the range's partitions whole for a
common signature. EXPLAIN ANALYZE on the UI bench's data set (1M reports over 30 days,
2 cores, serial plans), the signature summary of Firefox's last 7 days (six splits and the
total in one grouped scan):

- a top signature (25,786 reports): 95-100 ms by sequential scan, 43-60 ms with this index
  (a bitmap heap scan);
- a middling one (974 reports): 25 ms, 4.6 ms with it;
- a small one (30 reports): 15 ms, 0.8 ms with it.

Every processed crash pays for every index on ``reports``: what this one costs a write is
measured by ``tests/bench/report_writes.py`` (figures in the README).

Revision ID: 0010
"""

from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade():
    op.execute("CREATE INDEX reports_signature_date ON reports (signature, date_processed)")


def downgrade():
    op.execute("DROP INDEX reports_signature_date")
