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
