"""What an endpoint gets (``Call``) and gives back (``Reply``), and parameter helpers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from crashflow.api.errors import BadRequest, Forbidden
from crashflow.crashids import InvalidCrashId, normalize_crash_id


@dataclass
class Reply:
    status: int
    body: object  # JSON (dict, list, bool), a download (bytes, or an iterator of bytes), or a web page (str)
    headers: dict = field(default_factory=dict)  # or werkzeug Headers (several Set-Cookie)


@dataclass
class Call:
    """One request: its parameters and the permissions of its ``Auth-Token``."""

    request: object  # a flask/werkzeug request
    permissions: frozenset[str] = frozenset()

    @property
    def args(self):
        return self.request.args

    def may(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, permission: str) -> None:
        if permission not in self.permissions:
            raise Forbidden(f"this needs an Auth-Token with the {permission} permission")


def crash_id_param(params, name: str = "crash_id") -> str:
    raw = params.get(name)
    if not raw:
        raise BadRequest(f"{name} is required")
    try:
        return normalize_crash_id(raw)
    except InvalidCrashId as error:
        raise BadRequest(str(error)) from None


def list_param(params, name: str, split: bool = True) -> list[str]:
    """Every value of a repeated parameter; with ``split``, comma-separated lists too."""
    values = []
    for raw in params.getlist(name):
        parts = raw.split(",") if split else [raw]
        values.extend(part.strip() for part in parts if part.strip())
    return values


def int_param(params, name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {raw[:40]!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be within {low}..{high}")
    return value


# Dates the endpoints accept: windows are computed around them (a year back, a day on), and
# must stay within Python's years 1..9999.
EARLIEST_DATE = dt.date(1970, 1, 1)
LATEST_DATE = dt.date(9998, 12, 31)


def today() -> dt.date:
    """Today in UTC, the day crashes are filed under."""
    return dt.datetime.now(dt.timezone.utc).date()


def date_param(params, name: str, default: dt.date | None) -> dt.date | None:
    raw = params.get(name)
    if not raw:
        return default
    try:
        value = dt.date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a date like 2026-11-26, not {raw[:40]!r}") from None
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise BadRequest(f"{name} must be within {EARLIEST_DATE}..{LATEST_DATE}")
    return value


def refuse_nul_bytes(*param_sets) -> None:
    """Postgres text cannot hold a NUL byte: refuse one in any parameter name or value."""
    for params in param_sets:
        for name, values in params.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                raise BadRequest(f"parameter {name.replace(chr(0), '')[:80]!r} contains a NUL byte")


def check_known_params(params, known: set[str]) -> None:
    unknown = sorted(set(params) - known)
    if unknown:
        raise BadRequest(f"unknown parameter(s): {', '.join(unknown)}")
