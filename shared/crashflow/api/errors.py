"""Errors the API answers as ``{"error": "..."}`` with a status code. Store failures come
as the stores' own errors: ``StoreUnavailable`` (503), and ``QueryFailed`` (400 when
Postgres refused the value sent)."""

# How long a client is asked to wait after a store outage.
OUTAGE_RETRY_AFTER_SECONDS = 10


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
