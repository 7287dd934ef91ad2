"""Logging set-up for the functions and the command line.

``CRASHFLOW_LOG_FORMAT=json`` writes one JSON object per line (python-json-logger), with
``crash_id`` on every line logged while a crash is handled (``crash_context``), so that a
log search for a crash id finds its whole path through collect and process. The default is
plain text.
"""

import contextlib
import contextvars
import logging

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = ["asctime", "levelname", "name", "message", "process", "threadName"]

_crash_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("crash_id", default=None)


@contextlib.contextmanager
def crash_context(crash_id: str):
    """Every line logged inside (in this thread) carries ``crash_id``."""
    token = _crash_id.set(crash_id)
    try:
        yield
    finally:
        _crash_id.reset(token)


def current_crash_id() -> str | None:
    return _crash_id.get()


class CrashIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        crash_id = _crash_id.get()
        if crash_id is not None and not hasattr(record, "crash_id"):
            record.crash_id = crash_id
        return True


def formatter(kind: str) -> logging.Formatter:
    if kind == "json":
        return JsonFormatter(JSON_FIELDS, rename_fields={"levelname": "level", "asctime": "time", "name": "logger"})
    if kind == "text":
        return logging.Formatter(TEXT_FORMAT)
    raise ValueError(f"CRASHFLOW_LOG_FORMAT must be text or json, not {kind!r}")


def setup_logging() -> None:
    """Log to stderr at ``log_level`` in ``log_format`` (settings); once per process."""
    from crashflow.settings import get_settings

    root = logging.getLogger()
    if any(isinstance(f, CrashIdFilter) for handler in root.handlers for f in handler.filters):
        return
    settings = get_settings()
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(settings.log_format))
    handler.addFilter(CrashIdFilter())
    logging.basicConfig(level=settings.log_level, handlers=[handler])
