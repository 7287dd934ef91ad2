"""libcurl's signed requests (stores.awshttp): signatures as AWS computes them, retries of
transient failures only. A local HTTP server stands in for the service."""

import http.server
import re
import threading

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from crashflow.settings import Settings
from crashflow.stores.awshttp import AwsRequestFailed, SignedHttp
from crashflow.stores.s3 import S3Objects


class Recorder(http.server.ThreadingHTTPServer):
    """Answers each request with the next of ``statuses`` (then 200) and keeps it."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.requests: list[tuple[str, str, dict, bytes]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(handler):
                length = int(handler.headers.get("Content-Length", 0))
                body = handler.rfile.read(length)
                self.requests.append((handler.command, handler.path, dict(handler.headers), body))
                status = self.statuses.pop(0) if self.statuses else 200
                payload = b"" if handler.command == "HEAD" else b"answer"
                handler.send_response(status)
                handler.send_header("Content-Length", str(len(payload)))
                handler.end_headers()
                handler.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_HEAD = answer

            def log_message(handler, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server():
    recorder = Recorder()
    yield recorder
    recorder.shutdown()


def settings_for(url: str) -> Settings:
    return Settings(aws_endpoint_url=url, aws_access_key_id="AKIDEXAMPLE",
                    aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", aws_region="eu-west-3")


def expected_signature(auth_class, service: str, method: str, url: str, headers: dict, body: bytes) -> str:
    """The signature botocore (AWS's reference SDK) computes for the request as received."""
    signed = re.search(r"SignedHeaders=([^,]+)", headers["Authorization"]).group(1).split(";")
    lowered = {name.lower(): value for name, value in headers.items()}
    request = AWSRequest(method=method, url=url, data=body,
                         headers={name: lowered[name] for name in signed})
    request.context["timestamp"] = lowered["x-amz-date"]
    auth = auth_class(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), service, "eu-west-3")
    canonical = auth.canonical_request(request)
    return auth.signature(auth.string_to_sign(request, canonical), request)


def test_s3_put_is_signed_as_aws_signs_it(server):
    objects = S3Objects(settings_for(server.url), "crashes")
    objects.put("v1/dump/some id", b"MDMP" * 100, "application/octet-stream")
    method, path, headers, body = server.requests[0]
    assert (method, path, body) == ("PUT", "/crashes/v1/dump/some%20id", b"MDMP" * 100)
    assert headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert "content-type" in headers["Authorization"] and "/eu-west-3/s3/aws4_request" in headers["Authorization"]
    signature = re.search(r"Signature=([0-9a-f]{64})", headers["Authorization"]).group(1)
    assert signature == expected_signature(S3SigV4Auth, "s3", method, server.url + path, headers, body)


def test_sqs_call_is_signed_as_aws_signs_it(server):
    sender = SignedHttp(settings_for(server.url), "sqs")
    sender.request("POST", server.url + "/", b'{"QueueUrl": "q"}',
                   ["Content-Type: application/x-amz-json-1.0", "X-Amz-Target: AmazonSQS.SendMessage"])
    method, path, headers, body = server.requests[0]
    assert "Expect" not in headers
    signature = re.search(r"Signature=([0-9a-f]{64})", headers["Authorization"]).group(1)
    assert signature == expected_signature(SigV4Auth, "sqs", method, server.url + path, headers, body)


def test_transient_failures_are_tried_again():
    server = Recorder([503, 500])
    try:
        answer = SignedHttp(settings_for(server.url), "s3", attempts=3).request("GET", server.url + "/x")
        assert (answer.status, answer.body, len(server.requests)) == (200, b"answer", 3)
    finally:
        server.shutdown()


def test_tries_are_bounded_and_client_errors_are_not_repeated():
    server = Recorder([503, 503, 503, 404])
    try:
        with pytest.raises(AwsRequestFailed) as failed:
            SignedHttp(settings_for(server.url), "s3", attempts=3).request("GET", server.url + "/x")
        assert failed.value.status == 503 and len(server.requests) == 3
        # A 404 is an answer, not a failure: given back at once.
        assert SignedHttp(settings_for(server.url), "s3", attempts=3).request("GET", server.url + "/x").status == 404
        assert len(server.requests) == 4
    finally:
        server.shutdown()


def test_an_unreachable_service_fails_with_no_status():
    closed = Recorder()
    url = closed.url
    closed.shutdown()
    closed.server_close()
    with pytest.raises(AwsRequestFailed) as failed:
        SignedHttp(settings_for(url), "sqs", connect_timeout=0.5, attempts=2).request("POST", url + "/", b"{}")
    assert failed.value.status is None


def test_a_missing_object_reads_as_none(server):
    server.statuses = [404]
    assert S3Objects(settings_for(server.url), "crashes").get("v1/dump/x") is None
    assert S3Objects(settings_for(server.url), "crashes").get("v1/dump/x") == b"answer"


def test_temporary_credentials_are_refreshed_and_send_their_token(server):
    """Keys from the AWS chain expire: each request signs with the current ones, and sends
    their session token under the signature."""
    import datetime as dt

    from botocore.credentials import RefreshableCredentials

    issued = []

    def issue():
        issued.append(len(issued))
        # Already inside botocore's mandatory refresh window: the next request refreshes.
        expiry = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)
        return {"access_key": f"ASIATEMP{len(issued)}", "secret_key": "secret", "token": f"token-{len(issued)}",
                "expiry_time": expiry.isoformat()}

    keys = RefreshableCredentials.create_from_metadata(issue(), refresh_using=issue, method="test")
    http = SignedHttp(settings_for(server.url), "s3", credentials=keys)
    http.request("GET", server.url + "/bucket/a")
    http.request("GET", server.url + "/bucket/b")
    sent = [(re.search(r"Credential=(\w+)/", headers["Authorization"]).group(1), headers["X-Amz-Security-Token"],
             re.search(r"SignedHeaders=([^,]+)", headers["Authorization"]).group(1).split(";"))
            for _, _, headers, _ in server.requests]
    assert [(key, token) for key, token, _ in sent] == [("ASIATEMP2", "token-2"), ("ASIATEMP3", "token-3")]
    assert all("x-amz-security-token" in signed for _, _, signed in sent)
