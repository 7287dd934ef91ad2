"""boto3 clients for S3 and SQS, with crashflow's endpoint, credentials and retries, and
what their errors mean to the rest of crashflow (``StoreUnavailable``).

boto3 serves everything off the per-crash paths (listing, deleting, multipart uploads,
receiving, queue administration); the per-crash requests go through libcurl (``awshttp``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import boto3
from boto3.exceptions import Boto3Error
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from crashflow.settings import Settings
from crashflow.stores.credentials import chain_client
from crashflow.stores.errors import StoreUnavailable


def boto3_client(settings: Settings, service: str, connect_timeout: float = 5, read_timeout: float = 30,
                 total_max_attempts: int = 5):
    """A boto3 client for ``service`` (``s3`` or ``sqs``). Its own retries (botocore's
    standard mode: connection errors, throttling, 5xx) are the only ones around its calls."""
    options = {
        "endpoint_url": settings.endpoint_url(service),
        "region_name": settings.aws_region,
        "config": Config(
            retries={"total_max_attempts": total_max_attempts, "mode": "standard"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        ),
    }
    if not settings.aws_access_key_id:  # the standard AWS chain (stores.credentials)
        return chain_client(service, **options)
    return boto3.client(service, aws_access_key_id=settings.aws_access_key_id,
                        aws_secret_access_key=settings.aws_secret_access_key, **options)


@contextlib.contextmanager
def unavailable_as(store: str) -> Iterator[None]:
    """Whatever boto3 raises inside becomes ``StoreUnavailable(store)``."""
    try:
        yield
    except (BotoCoreError, ClientError, Boto3Error) as error:
        raise StoreUnavailable(store, f"{type(error).__name__}: {error}") from error
