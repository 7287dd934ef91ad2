"""Schema changes of the process function: the report columns search and aggregation need
beyond 0001's (see ``crashflow.reports.REPORT_COLUMNS``).

- ``major_version``: the leading number of ``version`` (Socorro's field), for version ranges.
- ``install_time``: the ``InstallTime`` annotation (Unix seconds); distinct values per
  signature count installations.
- ``thread_count``: threads in the dump.
- ``modules_in_stack``: ``module/debug_id`` of the crashing thread's frames, `` | ``-joined.

Columns added to the partitioned parent reach every partition.

Revision ID: 0003
"""

from alembic import op

revision = "0003"
down_revision = "0002"

SCHEMA = """
ALTER TABLE reports
    ADD COLUMN major_version    integer,
    ADD COLUMN install_time     bigint,
    ADD COLUMN thread_count     integer,
    ADD COLUMN modules_in_stack text;
"""


def upgrade():
    op.execute(SCHEMA)


def downgrade():
    op.execute(
        "ALTER TABLE reports DROP COLUMN major_version, DROP COLUMN install_time, "
        "DROP COLUMN thread_count, DROP COLUMN modules_in_stack"
    )
