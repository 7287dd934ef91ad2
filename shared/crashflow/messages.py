"""What the process function is asked to do: ``ProcessingRequest``, parsed in one place for
the queue message, the CloudEvent and the HTTP entry.

On the queues a request is a JSON object of the model's fields, or, in the short form the
collector writes (as do Socorro's tools, scripts and earlier crashflow versions),
``<crash id>`` or ``<crash id>:<rule set>``. A short message says no more than that, so
what it means comes from the queue it was read from, which the relay names: one from the
reprocessing queue looks symbols up afresh (it follows a symbol upload, as like as not),
one from the priority queue was asked for by a user. Without a queue (Knative's SQS
source) a short message is a collected crash; our own publishers other than the collector
write the JSON form, which says everything wherever it is read.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from crashflow.crashids import normalize_crash_id

RULESETS = ("default", "regenerate_signature")
Ruleset = Literal[RULESETS]
# Who asked: the collector (a new crash; `crashflow recover` sends its messages again), the
# Reprocessing API, a user waiting for a crash (ProcessedCrash: on demand, or the priority
# queue when process was unreachable), a symbol upload (crashes that had missed its symbols).
Origin = Literal["collector", "reprocessing", "priority", "on_demand", "symbol_upload"]
# Who asks for symbols to be looked up afresh.
FRESH_SYMBOLS_ORIGINS = ("reprocessing", "on_demand", "symbol_upload")
# What a short message read from each queue means.
SHORT_FORM_ORIGINS: dict[str | None, Origin] = {
    None: "collector", "standard": "collector", "priority": "priority", "reprocessing": "reprocessing",
}


class InvalidMessage(ValueError):
    """A message that can never be processed (not a crash id, an unknown rule set, ...)."""


class ProcessingRequest(BaseModel):
    """One crash to process: with which rule set, whether to ask the symbols bucket again
    for symbols it lacked lately (``fresh_symbols``), and who asked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    crash_id: str
    ruleset: Ruleset = "default"
    fresh_symbols: bool = False
    requested_by: Origin = "collector"

    @field_validator("crash_id")
    @classmethod
    def _normalized(cls, value: str) -> str:
        return normalize_crash_id(value)  # InvalidCrashId is a ValueError: a validation error

    @classmethod
    def for_origin(cls, crash_id: str, origin: Origin, ruleset: str = "default") -> ProcessingRequest:
        """A request as ``origin`` makes it: reprocessing, on-demand processing and a symbol
        upload's reprocessing look symbols up afresh."""
        return cls._validated(crash_id=crash_id, ruleset=ruleset, requested_by=origin,
                              fresh_symbols=origin in FRESH_SYMBOLS_ORIGINS)

    @classmethod
    def from_message(cls, body: str, queue: str | None = None) -> ProcessingRequest:
        """A queue message: JSON, or the short form read from ``queue``."""
        body = body.strip()
        if body.startswith("{"):
            try:
                fields = json.loads(body)
            except ValueError as error:
                raise InvalidMessage(f"not JSON: {error}") from None
            return cls.from_fields(fields)
        crash_id, _, ruleset = body.partition(":")
        return cls.for_origin(crash_id, SHORT_FORM_ORIGINS.get(queue, "collector"), ruleset or "default")

    @classmethod
    def from_fields(cls, fields: object) -> ProcessingRequest:
        if not isinstance(fields, dict):
            raise InvalidMessage(f"not a JSON object: {str(fields)[:60]!r}")
        return cls._validated(**fields)

    @classmethod
    def from_event_data(cls, data: object) -> ProcessingRequest:
        """A CloudEvent's data: the request's fields (the relay), a queue message's body as
        text (Knative's SQS source), or wrapped as SQS event sources do, ``{"Body": ...}``."""
        if isinstance(data, bytes):
            data = data.decode(errors="replace")
        if isinstance(data, dict) and "Body" in data:
            return cls.from_message(str(data["Body"]))
        if isinstance(data, dict):
            return cls.from_fields(data)
        return cls.from_message(str(data or ""))

    @classmethod
    def _validated(cls, **fields) -> ProcessingRequest:
        try:
            return cls(**fields)
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(part) for part in problem["loc"]) or "message"
            raise InvalidMessage(f"{where}: {problem['msg']}") from None

    def to_message(self) -> str:
        """The queue message: JSON when the request asks for fresh symbols, which a queue
        trigger without the relay could not tell from the queue; else the short form (who
        asked is the queue it is published to)."""
        if self.fresh_symbols:
            return self.model_dump_json()
        return self.crash_id if self.ruleset == "default" else f"{self.crash_id}:{self.ruleset}"

