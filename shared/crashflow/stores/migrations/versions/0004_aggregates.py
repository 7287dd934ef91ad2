"""Schema changes of the aggregate function: every table the aggregation jobs write and
the query API serves (top crashers, signatures, explosiveness, correlations, bugs).

- ``top_crashers`` gains ``install_count``: distinct ``install_time`` values of the day's
  reports (installations that crashed); over several days the query sums the daily counts.
  Its primary key becomes a plain (report_date, product) index: the job rebuilds a day
  with one grouped insert, so rows are unique by construction, and maintaining a
  five-column text key cost more than the rest of the job.
- ``top_crashers_by_product``: the same day counts over every version and process type, so
  the common "top crashers of a product" ranking reads one row per signature and day.
- ``top_crashers_7_days``: per product and signature, the sums of the seven days ending
  ``end_date``: the default ranking (7 days against the 7 before) reads two such days
  instead of fourteen daily ones.
- ``signatures``: first appearance (first ``date_processed``, lowest build id) of every
  signature; new signatures of a day are those whose ``first_date`` falls on it.
- ``explosiveness``: one-day and three-day scores per day, product and signature.
- ``correlations``: modules and add-ons over-represented in a signature's crashes against
  the same product and OS, with both shares (fractions 0..1) and the counts behind them.
- ``bugs`` / ``bug_associations``: Bugzilla bugs and the signatures in their
  ``cf_crash_signature`` field.
- ``retention_done``: days whose dumps retention removed while their raw crashes stay,
  so later runs do not list them again.

Revision ID: 0004
"""

from alembic import op

revision = "0004"
down_revision = "0003"

SCHEMA = """
ALTER TABLE top_crashers ADD COLUMN install_count integer NOT NULL DEFAULT 0;
ALTER TABLE top_crashers DROP CONSTRAINT top_crashers_pkey;
CREATE INDEX top_crashers_date_product ON top_crashers (report_date, product);
CREATE INDEX crashes_per_day_product_date ON crashes_per_day (product, report_date);

CREATE TABLE top_crashers_by_product (
    report_date    date    NOT NULL,
    product        text    NOT NULL,
    signature      text    NOT NULL,
    report_count   integer NOT NULL,
    win_count      integer NOT NULL,
    mac_count      integer NOT NULL,
    lin_count      integer NOT NULL,
    other_count    integer NOT NULL,
    hang_count     integer NOT NULL,
    install_count  integer NOT NULL
);
CREATE INDEX top_crashers_by_product_date_product ON top_crashers_by_product (report_date, product);

CREATE TABLE top_crashers_7_days (
    end_date       date    NOT NULL,
    product        text    NOT NULL,
    signature      text    NOT NULL,
    report_count   integer NOT NULL,
    win_count      integer NOT NULL,
    mac_count      integer NOT NULL,
    lin_count      integer NOT NULL,
    other_count    integer NOT NULL,
    hang_count     integer NOT NULL,
    install_count  integer NOT NULL
);
CREATE INDEX top_crashers_7_days_end_product ON top_crashers_7_days (end_date, product);

CREATE TABLE signatures (
    signature    text        PRIMARY KEY,
    first_date   timestamptz NOT NULL,
    first_build  text
);
CREATE INDEX signatures_first_date ON signatures (first_date);

CREATE TABLE explosiveness (
    report_date  date             NOT NULL,
    product      text             NOT NULL,
    signature    text             NOT NULL,
    day_count    integer          NOT NULL,
    oneday       double precision NOT NULL,
    threeday     double precision NOT NULL
);
CREATE INDEX explosiveness_date_product ON explosiveness (report_date, product);

CREATE TABLE correlations (
    report_date      date    NOT NULL,
    product          text    NOT NULL,
    os_name          text    NOT NULL,
    signature        text    NOT NULL,
    kind             text    NOT NULL CHECK (kind IN ('module', 'addon')),
    name             text    NOT NULL,
    signature_count  integer NOT NULL,
    signature_share  real    NOT NULL,
    baseline_count   integer NOT NULL,
    baseline_share   real    NOT NULL,
    PRIMARY KEY (report_date, product, os_name, signature, kind, name)
);
CREATE INDEX correlations_signature ON correlations (signature, report_date);

CREATE TABLE bugs (
    id                integer     PRIMARY KEY,
    status            text,
    resolution        text,
    summary           text,
    last_change_time  timestamptz,
    synced            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE bug_associations (
    bug_id     integer NOT NULL REFERENCES bugs (id) ON DELETE CASCADE,
    signature  text    NOT NULL,
    PRIMARY KEY (bug_id, signature)
);
CREATE INDEX bug_associations_signature ON bug_associations (signature);

CREATE TABLE retention_done (
    kind  text NOT NULL,
    day   date NOT NULL,
    done  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, day)
);

CREATE INDEX job_runs_job_status ON job_runs (job, status, window_end);
"""


def upgrade():
    op.execute(SCHEMA)


def downgrade():
    op.execute(
        "DROP INDEX job_runs_job_status; "
        "DROP TABLE retention_done, bug_associations, bugs, correlations, explosiveness, signatures, "
        "top_crashers_7_days, top_crashers_by_product; "
        "DROP INDEX crashes_per_day_product_date, top_crashers_date_product; "
        "ALTER TABLE top_crashers DROP COLUMN install_count, "
        "ADD PRIMARY KEY (report_date, product, version, process_type, signature)"
    )
