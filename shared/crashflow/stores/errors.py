"""What the stores raise: the rest of crashflow catches these, never a backend's own
exceptions (botocore, pg8000, thriftpy2, pycurl stay inside ``stores/``)."""

from __future__ import annotations


class StoreUnavailable(Exception):
    """A store could not do what was asked: unreachable, timed out, or it answered an error.
    Not the caller's fault: try again later (the API answers 503, the process function 503
    so that the queue redelivers, the collector 503 so that the client retries).
    ``store`` names it: ``s3``, ``sqs``, ``hbase``, ``postgres`` (or ``symbol cache``,
    the process function's disk)."""

    def __init__(self, store: str, message: str):
        super().__init__(f"{store}: {message}")
        self.store = store


class QueryFailed(Exception):
    """Postgres refused a statement: ``sqlstate`` is its code, ``message`` its reason."""

    # SQLSTATE class 22, "data exception": the value sent cannot be used (a NUL byte, a
    # date out of range, a bad regular expression, ...).
    DATA_EXCEPTION_CLASS = "22"

    def __init__(self, sqlstate: str, message: str):
        super().__init__(f"{sqlstate}: {message}" if sqlstate else message)
        self.sqlstate = sqlstate
        self.message = message

    @property
    def is_bad_value(self) -> bool:
        """Did Postgres refuse the value sent (rather than the statement)?"""
        return self.sqlstate.startswith(self.DATA_EXCEPTION_CLASS)


class CrashNotFound(LookupError):
    """No raw crash (or dump) stored under that crash id."""
