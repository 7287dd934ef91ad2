"""Endpoints over the aggregate tables: ``TopCrashers``, ``CrashesPerDay``, and
``AggregationJobs`` (the latest run of every job, with its error)."""

from __future__ import annotations

import datetime as dt

from crashflow.api.calls import Call, Reply, check_known_params, date_param, int_param, list_param, today
from crashflow.api.errors import BadRequest
from crashflow.api.search_sql import as_json_value
from crashflow.api.topcrashers import WINDOW_DAYS, ranked_top_crashers

MAX_TOP_CRASHERS = 1000
# Part of every TopCrashers answer's name: bumped when the answer gains a field, so that
# answers stored in the old shape (``overview_answers``) are computed again, not read.
TOP_CRASHERS_SHAPE = 2
MAX_DAYS_PER_DAY = 366
DEFAULT_DAYS_PER_DAY = 7


def product_params(call: Call, known: set[str]):
    """The parameters of an endpoint that needs ``product`` and knows ``known`` besides."""
    check_known_params(call.args, known | {"product"})
    if not call.args.get("product"):
        raise BadRequest("product is required")
    return call.args


def top_crashers(services, call: Call) -> Reply:
    params = product_params(call, {"version", "days", "process_type", "platform", "report_type", "_results_number",
                                   "end_date"})
    days = int_param(params, "days", 7, 1, max(WINDOW_DAYS))
    if days not in WINDOW_DAYS:
        raise BadRequest(f"days must be one of {', '.join(map(str, WINDOW_DAYS))}")
    arguments = {
        "product": params["product"],
        "version": tuple(list_param(params, "version", split=False)) or None,
        "days": days,
        "process_type": params.get("process_type") or None,
        "platform": params.get("platform") or None,
        "report_type": params.get("report_type") or None,
        "limit": int_param(params, "_results_number", 50, 1, MAX_TOP_CRASHERS),
        "end_date": date_param(params, "end_date", today()),
    }

    def rank() -> dict:
        with services.database.connection() as connection:
            try:
                return ranked_top_crashers(connection, **arguments)
            except ValueError as error:
                raise BadRequest(str(error)) from None

    return Reply(200, services.answers.get("TopCrashers", (*sorted(arguments.items()), ("shape", TOP_CRASHERS_SHAPE)),
                                             rank))


def crashes_per_day(services, call: Call) -> Reply:
    params = product_params(call, {"version", "from_date", "to_date", "os_name", "process_type", "report_type"})
    to_date = date_param(params, "to_date", today())
    from_date = date_param(params, "from_date", to_date - dt.timedelta(days=DEFAULT_DAYS_PER_DAY - 1))
    if from_date > to_date:
        raise BadRequest("from_date is after to_date")
    if (to_date - from_date).days >= MAX_DAYS_PER_DAY:
        raise BadRequest(f"at most {MAX_DAYS_PER_DAY} days at a time")
    conditions = ["product = :product", "report_date >= :from_date", "report_date <= :to_date"]
    values = {"product": params["product"], "from_date": from_date, "to_date": to_date}
    versions = list_param(params, "version", split=False)
    if versions:
        conditions.append("version = ANY(:versions)")
        values["versions"] = versions
    for name in ("os_name", "process_type", "report_type"):  # fixed names, not user input
        if params.get(name):
            conditions.append(f"{name} = :{name}")
            values[name] = params[name]
    def count() -> dict:
        with services.database.connection() as connection:
            rows = connection.run(
                f"SELECT report_date, version, sum(report_count) FROM crashes_per_day "
                f"WHERE {' AND '.join(conditions)} GROUP BY 1, 2 ORDER BY 1, 2",
                **values,
            )
        per_day = {from_date + dt.timedelta(days=n): 0 for n in range((to_date - from_date).days + 1)}
        hits = []
        for day, version, crashes in rows:
            per_day[day] += int(crashes)
            hits.append({"date": day.isoformat(), "version": version, "count": int(crashes)})
        return {
            "product": params["product"],
            "from_date": from_date.isoformat(),
            "to_date": to_date.isoformat(),
            "hits": hits,
            "days": [{"date": day.isoformat(), "count": crashes} for day, crashes in per_day.items()],
            "total": sum(per_day.values()),
        }

    key = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in values.items()))
    return Reply(200, services.answers.get("CrashesPerDay", key, count))


def latest_runs(database) -> list[dict]:
    """The latest run of every job that ran (by job name), with when it last succeeded."""
    columns = ("job", "window_start", "window_end", "started", "finished", "status", "rows_written", "error")
    with database.connection() as connection:
        rows = connection.run(
            f"SELECT DISTINCT ON (job) {', '.join(columns)}, "
            "(SELECT max(finished) FROM job_runs ok WHERE ok.job = r.job AND ok.status = 'ok') "
            "FROM job_runs r ORDER BY job, started DESC, id DESC"
        )
    return [dict(zip((*columns, "last_success"), row)) for row in rows]


def aggregation_jobs(services, call: Call) -> Reply:
    check_known_params(call.args, set())
    runs = latest_runs(services.database)
    hits = [{name: as_json_value(value) for name, value in run.items()} for run in runs]
    return Reply(200, {"hits": hits, "total": len(hits)})
