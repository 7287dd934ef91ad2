"""Errors the API answers as ``{"error": "..."}`` with a status code, and which store
failures mean an outage (503) or a bad value (400)."""

import botocore.exceptions
import pg8000.native
import thriftpy2.transport

# A store that cannot be reached: HBase (happybase over thriftpy2), Postgres (pg8000 wraps
# socket errors in InterfaceError), S3/SQS (botocore), or a raw socket error.
STORE_OUTAGES = (
    thriftpy2.transport.TTransportException,
    pg8000.native.InterfaceError,
    botocore.exceptions.ConnectionError,
    ConnectionError,
    TimeoutError,
)
OUTAGE_RETRY_AFTER_SECONDS = 10
# SQLSTATE class 22, "data exception": the value sent cannot be used (a NUL byte, a date out
# of range, a bad regular expression, ...).
DATA_EXCEPTION_CLASS = "22"


def sqlstate(error: Exception) -> str:
    """The SQLSTATE of a pg8000 DatabaseError ("" when it has none)."""
    details = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    return details.get("C", "")


def is_bad_value(error: Exception) -> bool:
    """Did Postgres refuse the value sent (rather than fail)?"""
    return isinstance(error, pg8000.native.DatabaseError) and sqlstate(error).startswith(DATA_EXCEPTION_CLASS)


class ApiError(Exception):
    status = 400

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status


class BadRequest(ApiError):
    status = 400


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class MethodNotAllowed(ApiError):
    status = 405


class TooManyRequests(ApiError):
    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after
