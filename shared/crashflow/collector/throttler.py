"""Throttling: an ordered list of rules over the annotations; the first that matches decides.

Rules come from a YAML or JSON file (``CRASHFLOW_THROTTLE_RULES``), validated with pydantic:

    rules:
      - name: has_comments
        annotation: Comments
        present: true
        result: ACCEPT
      - name: firefox_release
        annotation: ProductName
        equals: Firefox
        result: ACCEPT
        percentage: 10          # otherwise REJECT
      - name: old_build
        annotation: BuildID
        older_than_days: 730    # BuildID starts with YYYYMMDD
        result: REJECT

Conditions (exactly one per rule): ``always``, ``equals`` (a value or a list),
``not_equals`` (a value or a list; a missing annotation is not equal), ``matches`` (a
regular expression, searched), ``present`` (true/false) and ``older_than_days`` (the
annotation is a build id whose first eight characters are a date more than that many days
ago; a value that is not such a date does not match).
"""

from __future__ import annotations

import datetime as dt
import enum
import random
import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

RULES_DIR = Path(__file__).resolve().parent / "rules"


class ThrottleResult(enum.IntEnum):
    """The digit each result puts into the crash id."""

    ACCEPT = 0
    DEFER = 1
    REJECT = 2
    FAKEACCEPT = 3


class ThrottleRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    annotation: str | None = None
    always: bool = False
    equals: str | list[str] | None = None
    not_equals: str | list[str] | None = None
    matches: str | None = None
    present: bool | None = None
    older_than_days: float | None = None
    result: ThrottleResult
    percentage: float = 100.0
    otherwise: ThrottleResult = ThrottleResult.REJECT

    @model_validator(mode="before")
    @classmethod
    def _result_by_name(cls, data):
        for key in ("result", "otherwise"):
            if isinstance(data, dict) and isinstance(data.get(key), str):
                try:
                    data = {**data, key: ThrottleResult[data[key].upper()]}
                except KeyError:
                    raise ValueError(f"{key} must be one of {[r.name for r in ThrottleResult]}") from None
        return data

    @model_validator(mode="after")
    def _one_condition(self):
        conditions = [
            self.always, self.equals is not None, self.not_equals is not None,
            self.matches is not None, self.present is not None, self.older_than_days is not None,
        ]
        if sum(bool(c) for c in conditions) != 1:
            raise ValueError(
                f"rule {self.name!r} needs exactly one of always, equals, not_equals, matches,"
                " present, older_than_days"
            )
        if not self.always and not self.annotation:
            raise ValueError(f"rule {self.name!r} needs an annotation to test")
        if self.matches is not None:
            try:
                re.compile(self.matches)
            except re.error as error:
                raise ValueError(f"rule {self.name!r}: bad regular expression: {error}") from None
        if self.older_than_days is not None and self.older_than_days < 0:
            raise ValueError(f"rule {self.name!r}: older_than_days must not be negative")
        if not 0 <= self.percentage <= 100:
            raise ValueError(f"rule {self.name!r}: percentage must be within 0..100")
        return self

    def matches_crash(self, annotations: dict[str, str], today: dt.date) -> bool:
        if self.always:
            return True
        value = annotations.get(self.annotation or "")
        if self.present is not None:
            return (value is not None and value != "") == self.present
        if self.not_equals is not None:
            return value not in _as_list(self.not_equals)
        if value is None:
            return False
        if self.equals is not None:
            return value in _as_list(self.equals)
        if self.older_than_days is not None:
            built = build_date(value)
            return built is not None and (today - built).days > self.older_than_days
        return re.search(self.matches or "", value) is not None


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def build_date(build_id: str) -> dt.date | None:
    """The date a Mozilla-style build id (``YYYYMMDDhhmmss``) starts with, if it does."""
    if len(build_id) < 8 or not build_id[:8].isdigit():
        return None
    try:
        return dt.datetime.strptime(build_id[:8], "%Y%m%d").date()
    except ValueError:
        return None


class ThrottleRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[ThrottleRule]


class InvalidThrottleRules(ValueError):
    """The throttle rule file cannot be used."""


class Throttler:
    """Decides ACCEPT / DEFER / REJECT / FAKEACCEPT for a crash's annotations."""

    def __init__(self, rules: list[ThrottleRule], rng: random.Random | None = None):
        self.rules = rules
        self.rng = rng or random.Random()

    @classmethod
    def from_file(cls, path: str | Path) -> Throttler:
        path = Path(path)
        if not path.is_absolute() and not path.exists():
            path = RULES_DIR / path
        try:
            data = yaml.safe_load(path.read_text())
            return cls(ThrottleRules.model_validate(data).rules)
        except (OSError, yaml.YAMLError, ValidationError) as error:
            raise InvalidThrottleRules(f"throttle rules {path}: {error}") from error

    def throttle(self, annotations: dict[str, str], today: dt.date | None = None) -> tuple[ThrottleResult, str]:
        """The result and the name of the rule that gave it."""
        today = today or dt.datetime.now(dt.timezone.utc).date()
        for rule in self.rules:
            if rule.matches_crash(annotations, today):
                if rule.percentage >= 100 or self.rng.random() * 100 < rule.percentage:
                    return rule.result, rule.name
                return rule.otherwise, rule.name
        return ThrottleResult.REJECT, "NO_MATCH"
