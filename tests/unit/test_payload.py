import gzip
import json

import pytest

from crashflow.collector.payload import Limits, MalformedCrash, PayloadTooLarge, parse_crash_payload

BOUNDARY = "xYzZY"


def multipart(*parts: tuple[str, str | None, str | None, bytes]) -> bytes:
    """parts: (name, filename, content type, body)."""
    out = b""
    for name, filename, content_type, body in parts:
        out += f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"".encode()
        if filename:
            out += f"; filename=\"{filename}\"".encode()
        out += b"\r\n"
        if content_type:
            out += f"Content-Type: {content_type}\r\n".encode()
        out += b"\r\n" + body + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


HEADERS = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
BODY = multipart(
    ("ProductName", None, None, b"Firefox"),
    ("Version", None, None, b"120.0"),
    ("upload_file_minidump", "a.dmp", "application/octet-stream", b"MDMP\x00\x01"),
)


def chunks(data: bytes, size: int = 7):
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_form_fields_and_dump():
    payload = parse_crash_payload(HEADERS, chunks(BODY))
    assert payload.annotations == {"ProductName": "Firefox", "Version": "120.0"}
    assert payload.dumps == {"upload_file_minidump": b"MDMP\x00\x01"}
    assert payload.kind == "multipart" and not payload.compressed
    assert payload.size == len(BODY)


def test_gzip_body():
    payload = parse_crash_payload({**HEADERS, "Content-Encoding": "gzip"}, chunks(gzip.compress(BODY), 100))
    assert payload.compressed and payload.dumps["upload_file_minidump"] == b"MDMP\x00\x01"


def test_json_annotations():
    body = multipart(("extra", None, "application/json", json.dumps({"ProductName": "App", "N": 3}).encode()))
    payload = parse_crash_payload(HEADERS, [body])
    assert payload.kind == "json" and payload.annotations == {"ProductName": "App", "N": "3"}


@pytest.mark.parametrize("headers, body, reason", [
    ({}, BODY, "no_content_type"),
    ({"Content-Type": "text/plain"}, BODY, "wrong_content_type"),
    ({"Content-Type": "multipart/form-data"}, BODY, "no_boundary"),
    ({**HEADERS, "Content-Encoding": "gzip"}, BODY, "bad_gzip"),
    (HEADERS, BODY[: len(BODY) // 2], "truncated_body"),
    (HEADERS, multipart(("extra", None, "application/json", b"{nope")), "invalid_json"),
    (HEADERS, multipart(("extra", None, "application/json", b"[1, 2]")), "invalid_json_value"),
    (HEADERS, multipart(("upload_file_minidump", "a", None, b"x")), "no_annotations"),
    (HEADERS, multipart(("P", None, None, b"x"), ("raw_crash", "a", None, b"x")), "invalid_dump_name"),
])
def test_malformed(headers, body, reason):
    with pytest.raises(MalformedCrash) as error:
        parse_crash_payload(headers, [body])
    assert error.value.reason == reason


def test_gzip_bomb_stops_at_the_cap():
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))
    with pytest.raises(PayloadTooLarge):
        parse_crash_payload({**HEADERS, "Content-Encoding": "gzip"}, [bomb],
                            Limits(max_decompressed_bytes=1024 * 1024))


def test_request_size_cap():
    with pytest.raises(PayloadTooLarge):
        parse_crash_payload(HEADERS, chunks(BODY), Limits(max_request_bytes=len(BODY) - 1))
