"""aggregate: triggered by schedule CloudEvents (PingSource, or the local relay) whose data
names the job: ``{"job": "top_crashers", "date": "2026-11-25"}`` (``date``, or ``from`` and
``to``, optional; ``"job": "all"`` runs every job). Event data that can never run (no job,
an unknown job, a bad date, not JSON) answers 400, which the event source does not retry.
A failed job answers 500 with its error, which ``job_runs`` keeps too; a job already
running elsewhere, or not configured, is skipped (2xx). ``GET /__heartbeat__``,
``/__lbheartbeat__`` and ``/__version__`` answer as on the other functions."""

import datetime as dt
import functools
import json

import functions_framework
from cloudevents.http import CloudEvent
from werkzeug.exceptions import BadRequest

from crashflow import alerts
from crashflow.aggregation import schedules
from crashflow.aggregation.runner import run_jobs
from crashflow.logs import setup_logging
from crashflow.settings import get_settings
from crashflow.stores.factory import Stores


# Read (and so validate: schedules, retention, alert rules) the settings at start-up, not at
# the first event.
SETTINGS = get_settings()
schedules(SETTINGS)
ALERTS = alerts.configured(SETTINGS.alert_rules)


@functools.cache
def stores() -> Stores:
    setup_logging()
    return Stores.from_settings(SETTINGS, "jobs")


def heartbeat() -> dict[str, bool]:
    """Whether the stores the jobs use answer (``crashflow serve`` answers ``/__heartbeat__``
    with it: this function's own handler takes only CloudEvents)."""
    return stores().health("postgres", "hbase", "s3")


def _data(event: CloudEvent) -> dict:
    data = event.data
    if isinstance(data, (bytes, str)) and data:
        data = json.loads(data)  # PingSource without a JSON content type sends text
    if not isinstance(data, dict) or not isinstance(data.get("job"), str) or not data["job"]:
        # No default job: "all" would run retention on any stray event.
        raise ValueError(f"event data must be a JSON object naming the job, not {str(data)[:100]!r}")
    return data


def _date(data: dict, key: str):
    return dt.date.fromisoformat(data[key]) if data.get(key) else None


@functions_framework.cloud_event
def aggregate(event: CloudEvent) -> None:
    try:
        data = _data(event)
        start = _date(data, "date") or _date(data, "from")
        end = _date(data, "date") or _date(data, "to")
    except (ValueError, TypeError) as error:  # json.JSONDecodeError is a ValueError
        raise BadRequest(f"bad event data: {error}") from None
    try:
        runs = run_jobs(stores(), data["job"], start, end)
    except ValueError as error:  # an unknown job (UnknownJob), a window ending before it starts
        raise BadRequest(str(error)) from None
    failed = [run for run in runs if run.status == "error"]
    if failed:
        raise RuntimeError("; ".join(f"{run.job}: {run.error}" for run in failed))
