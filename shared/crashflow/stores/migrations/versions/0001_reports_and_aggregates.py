"""Reports (partitioned by week), aggregate tables and job runs.

Revision ID: 0001
"""

from alembic import op

revision = "0001"
down_revision = None

SCHEMA = """
CREATE TABLE reports (
    uuid                text        NOT NULL,
    date_processed      timestamptz NOT NULL,
    client_crash_date   timestamptz,
    product             text,
    version             text,
    build               text,
    release_channel     text,
    signature           text,
    proto_signature     text,
    url                 text,
    email               text,
    user_comments       text,
    app_notes           text,
    reason              text,
    address             text,
    os_name             text,
    os_version          text,
    cpu_arch            text,
    cpu_info            text,
    cpu_count           integer,
    uptime              bigint,
    install_age         bigint,
    last_crash          bigint,
    process_type        text,
    report_type         text,
    hangid              text,
    crashing_thread     integer,
    topmost_filenames   text,
    addons_checked      boolean,
    success             boolean,
    mdsw_status_string  text,
    processor_notes     text,
    started_datetime    timestamptz,
    completed_datetime  timestamptz,
    PRIMARY KEY (uuid, date_processed)
) PARTITION BY RANGE (date_processed);

CREATE INDEX reports_date_signature ON reports (date_processed, signature);
CREATE INDEX reports_product_version ON reports (product, version, date_processed);

CREATE TABLE crashes_per_day (
    report_date   date    NOT NULL,
    product       text    NOT NULL,
    version       text    NOT NULL,
    os_name       text    NOT NULL,
    process_type  text    NOT NULL,
    report_type   text    NOT NULL,
    report_count  integer NOT NULL,
    PRIMARY KEY (report_date, product, version, os_name, process_type, report_type)
);

CREATE TABLE top_crashers (
    report_date   date    NOT NULL,
    product       text    NOT NULL,
    version       text    NOT NULL,
    process_type  text    NOT NULL,
    signature     text    NOT NULL,
    report_count  integer NOT NULL,
    win_count     integer NOT NULL,
    mac_count     integer NOT NULL,
    lin_count     integer NOT NULL,
    other_count   integer NOT NULL,
    hang_count    integer NOT NULL,
    PRIMARY KEY (report_date, product, version, process_type, signature)
);

CREATE TABLE job_runs (
    id            bigserial   PRIMARY KEY,
    job           text        NOT NULL,
    window_start  date        NOT NULL,
    window_end    date        NOT NULL,
    started       timestamptz NOT NULL DEFAULT now(),
    finished      timestamptz,
    status        text        NOT NULL DEFAULT 'running',
    rows_written  integer,
    error         text
);
CREATE INDEX job_runs_job_started ON job_runs (job, started DESC);
"""


def upgrade():
    op.execute(SCHEMA)


def downgrade():
    op.execute("DROP TABLE job_runs, top_crashers, crashes_per_day, reports")
