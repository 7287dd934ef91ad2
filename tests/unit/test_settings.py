from crashflow.settings import Settings


def test_local_defaults_point_at_the_local_stack():
    settings = Settings(_env_file=None)
    assert settings.endpoint_url("s3") == "http://127.0.0.1:5000"
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
    import pytest
    from pydantic import ValidationError

    settings = Settings(aws_access_key_id="", aws_secret_access_key="")
    assert settings.aws_access_key_id is None and settings.aws_secret_access_key is None
    with pytest.raises(ValidationError, match="or neither"):
        Settings(aws_access_key_id="AKIA", aws_secret_access_key="")


def test_local_defaults_are_marked():
    marked = set(Settings.local_default_fields())
    assert {"pg_host", "hbase_host", "aws_endpoint_url", "aws_access_key_id", "process_url"} <= marked
    assert "namespace" not in marked and "stackwalker_timeout" not in marked
