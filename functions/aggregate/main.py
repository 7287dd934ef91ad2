"""aggregate: triggered by schedule CloudEvents (PingSource, or the local relay) whose data
names the job: ``{"job": "top_crashers", "date": "2026-11-25"}`` (date, or from/to, optional)."""

import datetime as dt
import functools

import functions_framework
from cloudevents.http import CloudEvent

from crashflow.aggregation.runner import run_jobs
from crashflow.logs import setup_logging
from crashflow.settings import get_settings
from crashflow.stores.postgres import Database


@functools.cache
def database() -> Database:
    setup_logging()
    return Database(get_settings())


def _date(data: dict, key: str):
    return dt.date.fromisoformat(data[key]) if data.get(key) else None


@functions_framework.cloud_event
def aggregate(event: CloudEvent) -> None:
    data = event.data if isinstance(event.data, dict) else {}
    start = _date(data, "date") or _date(data, "from")
    end = _date(data, "date") or _date(data, "to")
    runs = run_jobs(database(), data.get("job", "all"), start, end)
    failed = [run for run in runs if run.status != "ok"]
    if failed:
        raise RuntimeError("; ".join(f"{run.job}: {run.error}" for run in failed))
