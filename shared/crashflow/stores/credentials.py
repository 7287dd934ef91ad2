"""AWS credentials for S3 and SQS, for boto3's clients and libcurl's signer alike.

With ``aws_access_key_id`` / ``aws_secret_access_key`` set, those keys. Without them, the
standard AWS chain as botocore resolves it: ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``
/ ``AWS_SESSION_TOKEN``, ``AWS_PROFILE`` and the shared config files (assume-role profiles
included), a web identity token (``AWS_ROLE_ARN`` + ``AWS_WEB_IDENTITY_TOKEN_FILE``, as EKS
IRSA hands them out), the container credentials endpoint and the instance role. Temporary
credentials are refreshed by botocore before they expire; every libcurl request asks for
the current ones (a lock and a clock reading when nothing is due).
"""

from __future__ import annotations

import functools
import threading

import boto3
import botocore.session
from botocore.credentials import Credentials

from crashflow.settings import Settings


class NoCredentials(RuntimeError):
    """Neither the settings nor the AWS chain gave credentials."""


@functools.cache
def chain_session() -> boto3.Session:
    """The process's session for the AWS chain: one, so that the credentials it resolves
    (and refreshes) are shared by every client and signer."""
    return boto3.Session(botocore_session=botocore.session.get_session())


_SESSION_LOCK = threading.Lock()


def aws_credentials(settings: Settings) -> Credentials:
    """The credentials ``settings`` name: static keys, or the chain's (refreshable)."""
    if settings.aws_access_key_id:
        return Credentials(settings.aws_access_key_id, settings.aws_secret_access_key)
    with _SESSION_LOCK:
        credentials = chain_session().get_credentials()
    if credentials is None:
        raise NoCredentials(
            "no AWS credentials: set CRASHFLOW_AWS_ACCESS_KEY_ID and CRASHFLOW_AWS_SECRET_ACCESS_KEY, "
            "or provide them the standard AWS way (AWS_* variables, AWS_PROFILE, a web identity "
            "token, a container or instance role)"
        )
    return credentials


def chain_client(service: str, **options):
    """A boto3 client with the AWS chain's credentials (``stores.boto.boto3_client`` uses it
    when the settings hold no keys)."""
    with _SESSION_LOCK:  # creating clients from one session is not thread-safe
        return chain_session().client(service, **options)
