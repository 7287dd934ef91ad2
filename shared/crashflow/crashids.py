"""Crash ids ("ooids"): a UUID4 whose tail holds the throttle result and the submit date.

``de1bb258-cbbf-4589-a673-34f800160918`` was accepted (throttle digit 0) on 2016-09-18.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

CRASH_ID_RE = re.compile(r"^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{6}[0-9]{6}$")
BP_PREFIX = "bp-"


class InvalidCrashId(ValueError):
    """A string that is not a crash id."""


def create_crash_id(timestamp: dt.datetime | None = None, throttle_result: int = 0) -> str:
    """A new crash id for a crash submitted at ``timestamp`` with ``throttle_result``."""
    timestamp = timestamp or dt.datetime.now(dt.timezone.utc)
    if not 0 <= throttle_result <= 9:
        raise ValueError(f"throttle result must be one digit, not {throttle_result!r}")
    base = str(uuid.uuid4())[:-7]
    return f"{base}{throttle_result}{timestamp:%y%m%d}"


def normalize_crash_id(value: str) -> str:
    """The crash id in ``value`` (which may carry the ``bp-`` prefix), or InvalidCrashId."""
    value = (value or "").strip().lower()
    if value.startswith(BP_PREFIX):
        value = value[len(BP_PREFIX) :]
    if not CRASH_ID_RE.match(value):
        raise InvalidCrashId(f"not a crash id: {value[:60]!r}")
    try:
        date_from_crash_id(value)  # every key of the crash is filed under this date
    except ValueError:
        raise InvalidCrashId(f"not a crash id (no date in its last six digits): {value[:60]!r}") from None
    return value


def date_from_crash_id(crash_id: str) -> dt.date:
    """The submit date encoded in the last six digits."""
    tail = crash_id[-6:]
    return dt.date(2000 + int(tail[:2]), int(tail[2:4]), int(tail[4:6]))


def throttle_result_from_crash_id(crash_id: str) -> int:
    return int(crash_id[-7])

