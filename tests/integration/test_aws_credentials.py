"""S3 and SQS with temporary credentials from the standard AWS chain, the way clusters hand
them out (an assumed role, session tokens), against a moto server of the test's own that
checks every request's keys, session token and signature (moto's IAM enforcement).

Only the first few calls (creating the IAM user and role) go unauthenticated; everything
crashflow does afterwards must be signed with credentials moto issued."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests
from botocore.credentials import Credentials

from conftest import DATA, TEST_NAMESPACE, FunctionServer, free_port
from crashflow.settings import Settings
from crashflow.stores import credentials, layout, s3, sqs
from crashflow.stores.awshttp import SignedHttp

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"  # moto's default account
ROLE = f"arn:aws:iam::{ACCOUNT}:role/crashflow-function"
# The calls made before moto starts checking: create the user, its key, its policy, the
# role and the role's policy.
SETUP_CALLS = 5
CHAIN_VARIABLES = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


def allow(*actions: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": list(actions), "Resource": "*"}]})


@pytest.fixture(scope="module")
def moto_with_auth(tmp_path_factory):
    """A moto server that authenticates; yields (url, the IAM user's static keys)."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto-auth") / "moto.log", "ab")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(SETUP_CALLS)},
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(url + "/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto did not start") from None
                time.sleep(0.2)
        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                           aws_access_key_id="setup", aws_secret_access_key="setup")
        iam.create_user(UserName="deployer")
        key = iam.create_access_key(UserName="deployer")["AccessKey"]
        iam.put_user_policy(UserName="deployer", PolicyName="assume", PolicyDocument=allow("sts:AssumeRole"))
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/deployer"},
            "Action": "sts:AssumeRole"}]}
        iam.create_role(RoleName="crashflow-function", AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(RoleName="crashflow-function", PolicyName="stores", PolicyDocument=allow("s3:*", "sqs:*"))
        yield url, (key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        server.terminate()
        server.wait(10)
        log.close()


@pytest.fixture
def assume_role_profile(moto_with_auth, tmp_path, monkeypatch):
    """The environment of a pod whose credentials come from an assume-role profile: no keys
    in crashflow's settings, the role assumed through moto's STS."""
    url, (key_id, secret) = moto_with_auth
    (tmp_path / "credentials").write_text(
        f"[deployer]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n")
    (tmp_path / "config").write_text(
        f"[profile function]\nrole_arn = {ROLE}\nsource_profile = deployer\nregion = us-east-1\n")
    for name in CHAIN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_PROFILE", "function")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", url)
    credentials.chain_session.cache_clear()
    yield Settings(namespace=f"{TEST_NAMESPACE}-creds", aws_endpoint_url=url,
                   aws_access_key_id="", aws_secret_access_key="")
    credentials.chain_session.cache_clear()


def test_settings_without_keys_take_the_chain_and_its_session_token(assume_role_profile):
    settings = assume_role_profile
    keys = credentials.aws_credentials(settings).get_frozen_credentials()
    # Temporary credentials that moto's STS issued for the role.
    assert keys.access_key.startswith("ASIA") and keys.token

    # boto3 (bucket and queue administration, receiving) and libcurl (objects, publishing).
    s3.ensure_bucket(settings, settings.crash_bucket)
    queues = sqs.CrashQueues(settings)
    queues.ensure_queues()
    storage = s3.CrashStorage(settings)
    crash_id = "0f1e2d3c-4b5a-4968-8776-a5b4c3261130"
    storage.save_raw_crash(crash_id, {"ProductName": "Creds"}, {"upload_file_minidump": b"MDMP-temporary"})
    assert storage.load_raw_crash(crash_id) == {"ProductName": "Creds"}
    assert storage.load_dump(crash_id, "upload_file_minidump") == b"MDMP-temporary"
    assert storage.is_healthy()
    queues.publish("standard", crash_id)
    assert queues.publish_batch("priority", [crash_id, crash_id]) == []
    assert [m.body for m in queues.receive("standard", wait_seconds=2)] == [crash_id]
    assert [m.body for m in queues.receive("priority", wait_seconds=2)] == [crash_id, crash_id]


def test_moto_refuses_what_the_chain_would_not_sign(assume_role_profile):
    """The check above can fail: the same keys without their session token, and the local
    dummy keys, are refused."""
    settings = assume_role_profile
    s3.ensure_bucket(settings, settings.crash_bucket)
    keys = credentials.aws_credentials(settings).get_frozen_credentials()
    url = f"{settings.aws_endpoint_url}/{settings.crash_bucket}/"
    for wrong in (Credentials(keys.access_key, keys.secret_key), Credentials("testing", "testing"),
                  Credentials(keys.access_key, "not-the-secret", keys.token)):
        answer = SignedHttp(settings, "s3", credentials=wrong).request("HEAD", url)
        assert answer.status == 403, wrong
    assert SignedHttp(settings, "s3").request("HEAD", url).status == 200


def test_collect_stores_and_queues_with_session_credentials(moto_with_auth, tmp_path):
    """The collect function, with nothing in its settings but AWS_* variables holding an
    assumed role's temporary keys (as a pod gets them), stores and queues a crash."""
    url, (key_id, secret) = moto_with_auth
    sts = boto3.client("sts", endpoint_url=url, region_name="us-east-1",
                       aws_access_key_id=key_id, aws_secret_access_key=secret)
    temporary = sts.assume_role(RoleArn=ROLE, RoleSessionName="collect")["Credentials"]
    settings = Settings(namespace=f"{TEST_NAMESPACE}-creds", aws_endpoint_url=url,
                        aws_access_key_id=temporary["AccessKeyId"],
                        aws_secret_access_key=temporary["SecretAccessKey"])
    session_keys = Credentials(temporary["AccessKeyId"], temporary["SecretAccessKey"], temporary["SessionToken"])
    admin = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                         aws_access_key_id=session_keys.access_key, aws_secret_access_key=session_keys.secret_key,
                         aws_session_token=session_keys.token)
    admin.create_bucket(Bucket=settings.crash_bucket)
    queue_admin = boto3.client("sqs", endpoint_url=url, region_name="us-east-1",
                               aws_access_key_id=session_keys.access_key,
                               aws_secret_access_key=session_keys.secret_key,
                               aws_session_token=session_keys.token)
    queue_url = queue_admin.create_queue(QueueName=settings.queue_name("standard"))["QueueUrl"]

    env = {name: value for name, value in os.environ.items() if name not in CHAIN_VARIABLES}
    env.update(
        CRASHFLOW_NAMESPACE=settings.namespace, CRASHFLOW_AWS_ENDPOINT_URL=url,
        CRASHFLOW_AWS_ACCESS_KEY_ID="", CRASHFLOW_AWS_SECRET_ACCESS_KEY="",
        AWS_ACCESS_KEY_ID=temporary["AccessKeyId"], AWS_SECRET_ACCESS_KEY=temporary["SecretAccessKey"],
        AWS_SESSION_TOKEN=temporary["SessionToken"],
    )
    server = FunctionServer("collect", free_port(), env)
    try:
        server.wait_ready()
        dump = (DATA / "minidumps" / "linux-mini.dmp").read_bytes()
        answer = requests.post(server.url + "/submit", timeout=30, data={"ProductName": "Creds", "Version": "1"},
                               files={"upload_file_minidump": ("dump", dump)})
        assert answer.status_code == 200 and answer.text.startswith("CrashID=bp-"), answer.text
        crash_id = answer.text.strip().removeprefix("CrashID=bp-")
        assert admin.get_object(Bucket=settings.crash_bucket, Key=layout.dump_key(crash_id, "upload_file_minidump"))[
            "Body"].read() == dump
        received = queue_admin.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2)["Messages"]
        assert [message["Body"] for message in received] == [crash_id]
    finally:
        server.stop()
