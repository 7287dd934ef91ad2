import pytest

from crashflow.settings import Settings


@pytest.fixture
def no_endpoints(monkeypatch):
    """No endpoint or port from the environment (`make test` points the suite at moto, and
    a developer's own stack may run on other ports)."""
    for name in ("AWS_ENDPOINT_URL", "S3_ENDPOINT_URL", "SQS_ENDPOINT_URL", "S3_PORT", "SQS_PORT", "PROCESS_PORT",
                 "NAMESPACE"):
        monkeypatch.delenv(f"CRASHFLOW_{name}", raising=False)


def test_local_defaults_point_at_the_local_stack(no_endpoints):
    settings = Settings(_env_file=None)
    assert settings.endpoint_url("s3") == "http://127.0.0.1:8333"  # SeaweedFS
    assert settings.endpoint_url("sqs") == "http://127.0.0.1:9324"  # ElasticMQ
    assert settings.database == "crashflow"
    assert settings.queue_name("standard") == "crashflow-standard"
    assert settings.process_base_url == "http://127.0.0.1:8002"


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("CRASHFLOW_NAMESPACE", "acme")
    monkeypatch.setenv("CRASHFLOW_AWS_ENDPOINT_URL", "")
    monkeypatch.setenv("CRASHFLOW_SQS_ENDPOINT_URL", "http://sqs.internal")
    monkeypatch.setenv("CRASHFLOW_PG_PORT", "6543")
    settings = Settings()
    assert settings.endpoint_url("s3") is None  # empty: boto3's AWS default
    assert settings.endpoint_url("sqs") == "http://sqs.internal"
    assert settings.pg_port == 6543
    assert settings.crash_bucket == "acme-crashes"


def test_empty_keys_mean_the_aws_chain():
    from pydantic import ValidationError

    settings = Settings(aws_access_key_id="", aws_secret_access_key="")
    assert settings.aws_access_key_id is None and settings.aws_secret_access_key is None
    with pytest.raises(ValidationError, match="or neither"):
        Settings(aws_access_key_id="AKIA", aws_secret_access_key="")


def test_local_defaults_are_marked():
    marked = set(Settings.local_default_fields())
    assert {"pg_host", "hbase_host", "aws_endpoint_url", "aws_access_key_id", "process_url"} <= marked
    assert "namespace" not in marked and "stackwalker_timeout" not in marked


def test_endpoint_chain(no_endpoints):
    # The service's own endpoint, else the shared one; empty at the end of the chain: AWS.
    assert Settings(aws_endpoint_url="http://both").endpoint_url("sqs") == "http://both"
    assert Settings(aws_endpoint_url="http://both", s3_endpoint_url="").endpoint_url("s3") == "http://both"
    assert Settings(aws_endpoint_url="", s3_endpoint_url="").endpoint_url("s3") is None
    assert Settings(sqs_endpoint_url="").endpoint_url("sqs") is None
    # Only what is not set at all falls back to the local servers, on their ports.
    assert Settings(s3_port=18333, sqs_endpoint_url="http://q").endpoint_url("s3") == "http://127.0.0.1:18333"
    assert Settings(sqs_port=19324).endpoint_url("sqs") == "http://127.0.0.1:19324"
