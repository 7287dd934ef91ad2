"""Aggregation jobs: scheduled, idempotent per day, recorded in ``job_runs``.

``JOBS`` is the one list of them, in the order ``all`` runs them (later jobs read what
earlier ones wrote: explosiveness reads top crashers). Each job declares its name and its
default cron schedule; the relay fires those schedules locally, and Knative's PingSources
(``infra/knative/schedules.yaml``, checked against this list by the tests) in a cluster.
"""

from __future__ import annotations

from crashflow.aggregation.bug_associations import BUG_ASSOCIATIONS
from crashflow.aggregation.correlations import CORRELATIONS
from crashflow.aggregation.crashes_per_day import CRASHES_PER_DAY
from crashflow.aggregation.explosiveness import EXPLOSIVENESS
from crashflow.aggregation.jobs import Job
from crashflow.aggregation.partitions import PARTITIONS
from crashflow.aggregation.retention import RETENTION
from crashflow.aggregation.signatures import SIGNATURES
from crashflow.aggregation.top_crashers import TOP_CRASHERS
from crashflow.settings import Settings

JOBS: tuple[Job, ...] = (
    PARTITIONS,
    CRASHES_PER_DAY,
    TOP_CRASHERS,
    SIGNATURES,
    EXPLOSIVENESS,
    CORRELATIONS,
    BUG_ASSOCIATIONS,
    RETENTION,
)
JOB_NAMES = tuple(job.name for job in JOBS)
DEFAULT_SCHEDULES = {job.name: job.schedule for job in JOBS}


def schedules(settings: Settings) -> dict[str, str]:
    """When each job runs: ``CRASHFLOW_SCHEDULES`` (the settings check its cron
    expressions), or every job's default. ValueError for a schedule of a job that does not
    exist: the aggregate function and the relay call this as they start."""
    chosen = DEFAULT_SCHEDULES if settings.schedules is None else settings.schedules
    unknown = sorted(set(chosen) - set(JOB_NAMES))
    if unknown:
        raise ValueError(f"schedule for unknown job {unknown[0]!r}; jobs: {', '.join(JOB_NAMES)}")
    return dict(chosen)
