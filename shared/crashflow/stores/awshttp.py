"""Signed S3 and SQS requests on the per-crash paths, through libcurl (``pycurl``), which
signs them with AWS Signature Version 4 itself (``CURLOPT_AWS_SIGV4``).

Why not boto3 there: measured on the local stack, a PutObject costs boto3 about 3.2 ms of CPU
and a SendMessageBatch about 2.4 ms, as much as all the rest the collector does for a
crash; the same requests through libcurl cost 0.4-0.7 ms. Everything off those paths (listing, deleting,
queue administration, receiving) stays with boto3.

One libcurl handle per thread: a handle is not thread-safe, and each keeps its own
connection alive between requests. Credentials are boto3's (``stores.credentials``): the
settings' keys, or the standard AWS chain, whose temporary credentials are asked for afresh
on every request (refreshed before they expire) and send their session token.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import pycurl
from botocore.credentials import Credentials

from crashflow.retrying import call_with_retries
from crashflow.settings import Settings
from crashflow.stores.credentials import aws_credentials
from crashflow.stores.errors import StoreUnavailable

T = TypeVar("T")


class AwsRequestFailed(StoreUnavailable):
    """The service (``s3`` or ``sqs``) answered an error status (``status``), or could not
    be reached (None)."""

    def __init__(self, service: str, message: str, status: int | None = None, body: bytes = b""):
        super().__init__(service, message)
        self.status = status
        self.body = body

    @property
    def transient(self) -> bool:
        # Unreachable, throttled or a server error: worth another try.
        return self.status is None or self.status == 429 or self.status >= 500


@dataclass(frozen=True)
class AwsResponse:
    service: str
    status: int
    body: bytes

    def expect(self, what: str, status: int = 200) -> AwsResponse:
        """This response, if its status is ``status``; else AwsRequestFailed naming ``what``."""
        if self.status != status:
            raise AwsRequestFailed(
                self.service, f"{what}: HTTP {self.status}: {self.body[:300]!r}", self.status, self.body
            )
        return self


class SignedHttp:
    """HTTP requests to one AWS service (``s3`` or ``sqs``) signed by libcurl."""

    def __init__(
        self,
        settings: Settings,
        service: str,
        connect_timeout: float = 5,
        timeout: float = 30,
        attempts: int = 3,
        credentials: Credentials | None = None,
    ):
        self.service = service
        self.endpoint = (settings.endpoint_url(service) or "").rstrip("/") or None
        self.region = settings.aws_region
        self.credentials = credentials or aws_credentials(settings)
        self.connect_timeout_ms = int(connect_timeout * 1000)
        self.timeout_ms = int(timeout * 1000)
        self.attempts = attempts
        self._local = threading.local()

    def _handle(self) -> pycurl.Curl:
        curl = getattr(self._local, "curl", None)
        if curl is None:
            curl = self._local.curl = pycurl.Curl()
        return curl

    def request(self, method: str, url: str, body: bytes = b"", headers: list[str] | None = None) -> AwsResponse:
        """Send one request, again on a transient failure (up to ``attempts`` times in all);
        the answer, whatever its status, or AwsRequestFailed when none came."""
        return self.retrying(lambda: self.send_once(method, url, body, headers or []))

    def retrying(self, call: Callable[[], T]) -> T:
        """``call()``, again while it fails transiently (an error whose ``transient`` is
        true: no answer, 429, 5xx), up to ``attempts`` times in all. The one retry layer
        around a request to the service: callers above retry nothing."""
        return call_with_retries(call, self.attempts, retry_on=lambda error: getattr(error, "transient", False))

    def send_once(self, method: str, url: str, body: bytes = b"", headers: list[str] | None = None) -> AwsResponse:
        """One try: the answer, or AwsRequestFailed (transient) for none, a 429 or a 5xx."""
        answer = self._send(method, url, body, headers or [])
        if answer.status == 429 or answer.status >= 500:
            raise AwsRequestFailed(self.service, f"{method} {url}: HTTP {answer.status}", answer.status, answer.body)
        return answer

    def _send(self, method: str, url: str, body: bytes, headers: list[str]) -> AwsResponse:
        curl = self._handle()
        curl.reset()  # keeps the handle's live connections
        received: list[bytes] = []
        curl.setopt(pycurl.URL, url)
        curl.setopt(pycurl.AWS_SIGV4, f"aws:amz:{self.region}:{self.service}")
        keys = self.credentials.get_frozen_credentials()
        curl.setopt(pycurl.USERNAME, keys.access_key)
        curl.setopt(pycurl.PASSWORD, keys.secret_key)
        if keys.token:  # temporary credentials; libcurl signs every header it is given
            headers = [*headers, f"X-Amz-Security-Token: {keys.token}"]
        curl.setopt(pycurl.CONNECTTIMEOUT_MS, self.connect_timeout_ms)
        curl.setopt(pycurl.TIMEOUT_MS, self.timeout_ms)
        curl.setopt(pycurl.NOSIGNAL, 1)  # timeouts without SIGALRM: we run in threads
        curl.setopt(pycurl.WRITEFUNCTION, received.append)
        # No "Expect: 100-continue" round trip before large bodies.
        curl.setopt(pycurl.HTTPHEADER, [*headers, "Expect:"])
        if method == "GET":
            curl.setopt(pycurl.HTTPGET, 1)
        elif method == "HEAD":
            curl.setopt(pycurl.NOBODY, 1)
        else:
            curl.setopt(pycurl.POSTFIELDS, bytes(body))
            if method != "POST":
                curl.setopt(pycurl.CUSTOMREQUEST, method)
        try:
            curl.perform()
        except pycurl.error as error:
            raise AwsRequestFailed(self.service, f"{method} {url}: {error.args[-1]}") from None
        return AwsResponse(self.service, curl.getinfo(pycurl.RESPONSE_CODE), b"".join(received))
