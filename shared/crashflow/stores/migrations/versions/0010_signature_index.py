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

Every processed crash pays for every index on ``reports``. ``tests/bench/report_writes.py``
(300,000 rows, then 5,000 written one at a time through the processor's upsert, load 1.5):
100 bytes a row (the other indexes: 399), and a write's server CPU 310 us without it, 318
and 338 us with it (two passes), wall time p50 0.62 ms without, 0.64-0.67 ms with, WAL
980 B a row without, 955-1,030 with: within the machine's noise.

Revision ID: 0010
"""

from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade():
    op.execute("CREATE INDEX reports_signature_date ON reports (signature, date_processed)")


def downgrade():
    op.execute("DROP INDEX reports_signature_date")
