"""Signature endpoints: ``CrashSignature`` (siggen on posted crash data), ``Bugs``,
``SignaturesByBugs`` and ``SignatureFirstDate`` (tables the aggregate jobs fill)."""

from __future__ import annotations

from crashflow.api.calls import Call, Reply, check_known_params, list_param
from crashflow.api.errors import BadRequest
from crashflow.api.search_sql import as_json_value
from crashflow.signing import sign, signature_input

MAX_JOBS = 100
MAX_LOOKUPS = 1000


def sign_job(job: dict) -> dict:
    """A processed crash (with the stackwalker's json_dump) is converted as the processor
    converts it; anything else is taken as siggen's own crash data (os, crashing_thread,
    threads[].frames, ...)."""
    result = sign(signature_input(job) if "json_dump" in job else job)
    return {"signature": result.signature, "notes": list(result.notes), "extra": dict(result.extra)}


def crash_signature(services, call: Call) -> Reply:
    body = call.request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("jobs"), list):
        raise BadRequest('send JSON {"jobs": [crash data, ...]}')
    jobs = body["jobs"]
    if not 1 <= len(jobs) <= MAX_JOBS:
        raise BadRequest(f"send 1..{MAX_JOBS} jobs")
    if not all(isinstance(job, dict) for job in jobs):
        raise BadRequest("every job must be a JSON object")
    return Reply(200, {"results": [sign_job(job) for job in jobs]})


def bug_id(text: str) -> int:
    value = int(text)
    if not 0 < value < 2**31:
        raise ValueError(text)
    return value


def _lookups(params, name: str, convert=str) -> list:
    values = list_param(params, name, split=False)
    if not values:
        raise BadRequest(f"{name} is required")
    if len(values) > MAX_LOOKUPS:
        raise BadRequest(f"at most {MAX_LOOKUPS} {name} at a time")
    try:
        return [convert(value) for value in values]
    except ValueError:
        raise BadRequest(f"{name} must be bug numbers (1..2147483647)") from None


def _lookup(services, call: Call, name: str, sql: str, columns: list[str], convert=str) -> Reply:
    """Rows of ``sql`` for the values of parameter ``name`` (``:values`` in the SQL)."""
    check_known_params(call.args, {name})
    values = _lookups(call.args, name, convert)
    with services.database.connection() as connection:
        rows = connection.run(sql, values=values)
    hits = [{column: as_json_value(value) for column, value in zip(columns, row)} for row in rows]
    return Reply(200, {"hits": hits, "total": len(hits)})


def bugs(services, call: Call) -> Reply:
    return _lookup(
        services, call, "signatures",
        "SELECT bug_id, signature FROM bug_associations WHERE signature = ANY(:values) ORDER BY bug_id, signature",
        ["id", "signature"],
    )


def signatures_by_bugs(services, call: Call) -> Reply:
    return _lookup(
        services, call, "bug_ids",
        "SELECT bug_id, signature FROM bug_associations WHERE bug_id = ANY(:values) ORDER BY bug_id, signature",
        ["id", "signature"], bug_id,
    )


def signature_first_date(services, call: Call) -> Reply:
    return _lookup(
        services, call, "signatures",
        "SELECT signature, first_date, first_build FROM signatures WHERE signature = ANY(:values) ORDER BY signature",
        ["signature", "first_date", "first_build"],
    )
