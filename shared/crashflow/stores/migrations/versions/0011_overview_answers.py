"""The overview's speed and its platform-by-report-type ranking:

- ``overview_answers``: the overview endpoints' answers (``Products``, ``CrashesPerDay``,
  ``TopCrashers``, ``NewSignatures``, ``ExplosiveSignatures``, ``Regressions``) for what the
  pages ask, computed by the aggregate function right after a run of a job they read
  (``crashflow.api.answers``), each stamped with the runs it was computed from, so that a
  page reads one row by its primary key instead of recomputing;
- hangs per platform in the three top-crasher tables (``win_hang_count`` ...), so that a
  ranking may be of one report type on one platform. Days aggregated before count 0 hangs
  per platform until the top_crashers job runs them again.

Revision ID: 0011
"""

from alembic import op

revision = "0011"
down_revision = "0010"

TOP_CRASHER_TABLES = ("top_crashers", "top_crashers_by_product", "top_crashers_7_days")
HANG_COLUMNS = ("win_hang_count", "mac_hang_count", "lin_hang_count", "other_hang_count")

SCHEMA = """
CREATE TABLE overview_answers (
    endpoint    text        NOT NULL,
    key         text        NOT NULL,
    runs        text        NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now(),
    answer      text        NOT NULL,
    PRIMARY KEY (endpoint, key)
);
CREATE INDEX overview_answers_computed_at ON overview_answers (computed_at);
"""


def upgrade():
    op.execute(SCHEMA)
    for table in TOP_CRASHER_TABLES:
        op.execute(f"ALTER TABLE {table} "
                   + ", ".join(f"ADD COLUMN {column} integer NOT NULL DEFAULT 0" for column in HANG_COLUMNS))


def downgrade():
    op.execute("DROP TABLE overview_answers")
    for table in TOP_CRASHER_TABLES:
        op.execute(f"ALTER TABLE {table} " + ", ".join(f"DROP COLUMN {column}" for column in HANG_COLUMNS))
