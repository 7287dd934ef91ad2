"""``Reprocessing``: queue crashes to be processed again (``reprocess_crashes``)."""

from __future__ import annotations

import re

from crashflow.api.calls import Call, Reply
from crashflow.api.errors import BadRequest
from crashflow.crashids import InvalidCrashId, normalize_crash_id

PERMISSION = "reprocess_crashes"
MAX_CRASH_IDS = 10_000
RULESET_RE = re.compile(r"^[a-z0-9_-]{1,50}$")


def parse_crash_ids(values: list[str]) -> list[str]:
    """Queue messages ``<id>`` or ``<id>:<ruleset>``; every one checked before any is queued."""
    messages = []
    for value in values:
        for part in value.split(","):
            if not part.strip():
                continue
            raw_id, _, ruleset = part.strip().partition(":")
            try:
                crash_id = normalize_crash_id(raw_id)
            except InvalidCrashId as error:
                raise BadRequest(str(error)) from None
            if ruleset and not RULESET_RE.match(ruleset):
                raise BadRequest(f"bad ruleset name {ruleset[:60]!r}")
            messages.append(f"{crash_id}:{ruleset}" if ruleset else crash_id)
    if not messages:
        raise BadRequest("crash_ids is required")
    if len(messages) > MAX_CRASH_IDS:
        raise BadRequest(f"at most {MAX_CRASH_IDS} crash ids at a time")
    return list(dict.fromkeys(messages))


def reprocessing(services, call: Call) -> Reply:
    call.require(PERMISSION)
    values = call.request.form.getlist("crash_ids") + call.args.getlist("crash_ids")
    for message in parse_crash_ids(values):
        services.queues.publish("reprocessing", message)
    return Reply(200, True)
