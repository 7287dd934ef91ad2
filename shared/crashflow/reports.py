"""The ``reports`` row: the columns of a processed crash that search and aggregation need.

The processed crash itself (with the stackwalker output) stays in HBase.
"""

from __future__ import annotations

import datetime as dt

from crashflow.late_symbols import missing_modules

# column -> kind (text/timestamp/integer/boolean); the single list the processor writes and
# search reads. Columns 0001 created plus those migration 0003 added.
REPORT_COLUMNS: dict[str, str] = {
    "uuid": "text",
    "date_processed": "timestamp",
    "client_crash_date": "timestamp",
    "product": "text",
    "version": "text",
    "major_version": "integer",
    "build": "text",
    "release_channel": "text",
    "signature": "text",
    "proto_signature": "text",
    "url": "text",
    "email": "text",
    "user_comments": "text",
    "app_notes": "text",
    "reason": "text",
    "address": "text",
    "os_name": "text",
    "os_version": "text",
    "cpu_arch": "text",
    "cpu_info": "text",
    "cpu_count": "integer",
    "uptime": "integer",
    "install_age": "integer",
    "install_time": "integer",
    "last_crash": "integer",
    "process_type": "text",
    "report_type": "text",
    "hangid": "text",
    "crashing_thread": "integer",
    "thread_count": "integer",
    "topmost_filenames": "text",
    "modules_in_stack": "text",
    "addons_checked": "boolean",
    "success": "boolean",
    "mdsw_status_string": "text",
    "processor_notes": "text",
    "started_datetime": "timestamp",
    "completed_datetime": "timestamp",
}
# The primary key's columns (0001): never NULL.
KEY_COLUMNS = ("uuid", "date_processed")


def _timestamp(value) -> dt.datetime | None:
    if not value:
        return None
    if isinstance(value, dt.datetime):
        return value
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _integer(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return " | ".join(str(item) for item in value)
    return str(value)


def _boolean(value) -> bool | None:
    return None if value is None else bool(value)


CONVERTERS = {"text": _text, "timestamp": _timestamp, "integer": _integer, "boolean": _boolean}


def report_row(processed: dict) -> dict:
    """The ``reports`` row for a processed crash: the searchable columns, and the modules
    it had no symbols for (``crashflow.late_symbols``; not a search field)."""
    row = {}
    for column, kind in REPORT_COLUMNS.items():
        row[column] = CONVERTERS[kind](processed.get(column))
    row["missing_modules"] = missing_modules(processed)
    return row
