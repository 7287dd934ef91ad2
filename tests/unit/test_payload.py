import gzip
import json
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crashflow.collector.payload import Limits, MalformedCrash, PayloadTooLarge, parse_crash_payload

BOUNDARY = "xYzZY"


def multipart(*parts: tuple[str, str | None, str | None, bytes], boundary: str = BOUNDARY) -> bytes:
    """parts: (name, filename, content type, body)."""
    out = b""
    for name, filename, content_type, body in parts:
        out += f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"".encode()
        if filename:
            out += f"; filename=\"{filename}\"".encode()
        out += b"\r\n"
        if content_type:
            out += f"Content-Type: {content_type}\r\n".encode()
        out += b"\r\n" + body + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def headers(body: bytes, **extra) -> dict:
    return {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Content-Length": str(len(body)), **extra}


BODY = multipart(
    ("ProductName", None, None, b"Firefox"),
    ("Version", None, None, b"120.0"),
    ("upload_file_minidump", "a.dmp", "application/octet-stream", b"MDMP\x00\x01"),
)
HEADERS = headers(BODY)


def chunks(data: bytes, size: int = 7):
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_form_fields_and_dump():
    payload = parse_crash_payload(HEADERS, chunks(BODY))
    assert payload.annotations == {"ProductName": "Firefox", "Version": "120.0"}
    assert payload.dumps == {"upload_file_minidump": b"MDMP\x00\x01"}
    assert payload.kind == "multipart" and not payload.compressed
    assert payload.size == len(BODY)
    assert payload.notes == []


def test_gzip_body():
    body = gzip.compress(BODY)
    payload = parse_crash_payload(headers(body, **{"Content-Encoding": "gzip"}), chunks(body, 100))
    assert payload.compressed and payload.dumps["upload_file_minidump"] == b"MDMP\x00\x01"
    assert payload.size == len(body)


def test_chunked_body_without_content_length():
    payload = parse_crash_payload(
        {"Content-Type": HEADERS["Content-Type"], "Transfer-Encoding": "chunked"}, chunks(BODY, 3)
    )
    assert payload.annotations["ProductName"] == "Firefox"


def test_multipart_mixed():
    payload = parse_crash_payload({**HEADERS, "Content-Type": f"multipart/mixed; boundary={BOUNDARY}"}, [BODY])
    assert payload.annotations["Version"] == "120.0"


def test_firefox_extra_json_file_part_is_the_annotations():
    """Firefox's crash reporter sends the annotations as a file part: the content type
    decides, not the filename."""
    extra = {"ProductName": "Firefox", "Version": "140.0", "TelemetryEnvironment": "{}"}
    body = multipart(
        ("extra", "extra.json", "application/json", json.dumps(extra).encode()),
        ("upload_file_minidump", "0e9f.dmp", "application/octet-stream", b"MDMP"),
    )
    payload = parse_crash_payload(headers(body), chunks(body))
    assert payload.annotations == extra and payload.kind == "json"
    assert payload.dumps == {"upload_file_minidump": b"MDMP"}


@pytest.mark.parametrize("value", [b"[1, 2]", b'"a string"', b"3"])
def test_a_json_file_part_that_is_not_an_object_is_malformed_not_a_dump(value):
    body = multipart(
        ("extra", "extra.json", "application/json", value),
        ("upload_file_minidump", "0e9f.dmp", "application/octet-stream", b"MDMP"),
    )
    with pytest.raises(MalformedCrash) as error:
        parse_crash_payload(headers(body), [body])
    assert error.value.reason == "invalid_json_value"


def test_json_annotations():
    body = multipart(("extra", None, "application/json", json.dumps({"ProductName": "App", "N": 3}).encode()))
    payload = parse_crash_payload(headers(body), [body])
    assert payload.kind == "json" and payload.annotations == {"ProductName": "App", "N": "3"}


@pytest.mark.parametrize("json_first", [True, False])
def test_form_fields_and_json_part_are_merged_and_noted(json_first):
    parts = [
        ("extra", None, "application/json", json.dumps({"ProductName": "FromJson", "A": "1"}).encode()),
        ("ProductName", None, None, b"FromField"),
        ("B", None, None, b"2"),
    ]
    body = multipart(*(parts if json_first else parts[::-1]))
    payload = parse_crash_payload(headers(body), [body])
    assert payload.annotations == {"ProductName": "FromJson", "A": "1", "B": "2"}
    assert payload.notes == ["annotations came both as form fields and as a JSON part; JSON won for ProductName"]


def test_many_dumps_and_binary_part_without_filename():
    body = multipart(
        ("ProductName", None, None, b"App"),
        ("upload_file_minidump", "a.dmp", None, b"one"),
        ("upload_file_minidump_browser", "b.dmp", None, b"two"),
        ("memory_report", None, "application/octet-stream", b"\x1f\x8b three"),
    )
    payload = parse_crash_payload(headers(body), chunks(body, 5))
    assert payload.dumps == {
        "upload_file_minidump": b"one", "upload_file_minidump_browser": b"two", "memory_report": b"\x1f\x8b three",
    }
    assert payload.annotations == {"ProductName": "App"}


def test_dump_names_are_sanitized_and_noted():
    body = multipart(("P", None, None, b"x"), ("../../etc/passwd", "a", None, b"d"), ("a" * 40, "a", None, b"e"))
    payload = parse_crash_payload(headers(body), [body])
    assert set(payload.dumps) == {"etcpasswd", "a" * 30}
    assert any("sanitized to 'etcpasswd'" in note for note in payload.notes)


def test_invalid_utf8_annotation_is_kept_and_noted():
    body = multipart(("Comments", None, None, b"caf\xe9"))
    payload = parse_crash_payload(headers(body), [body])
    assert payload.annotations == {"Comments": "caf\ufffd"}
    assert payload.notes == ["annotation 'Comments' was not valid UTF-8"]


@pytest.mark.parametrize("hdrs, body, reason", [
    ({"Content-Length": str(len(BODY))}, BODY, "no_content_type"),
    ({"Content-Type": "text/plain", "Content-Length": "10"}, BODY, "wrong_content_type"),
    ({"Content-Type": "multipart/form-data", "Content-Length": "10"}, BODY, "no_boundary"),
    ({"Content-Type": HEADERS["Content-Type"]}, BODY, "no_content_length"),
    ({"Content-Type": HEADERS["Content-Type"], "Content-Length": "0"}, BODY, "no_content_length"),
    ({**HEADERS, "Content-Encoding": "gzip"}, BODY, "bad_gzip"),
    ({**HEADERS, "Content-Encoding": "br"}, BODY, "unsupported_content_encoding"),
    # Socorro's collector says invalid_payload_structure for every body it cannot parse.
    (HEADERS, BODY[: len(BODY) // 2], "invalid_payload_structure"),
    (HEADERS, b"no boundary anywhere in here", "invalid_payload_structure"),
    (headers(BODY + b"0123456789"), BODY, "invalid_payload_structure"),  # shorter than announced
    (headers(BODY.replace(b"xYzZY", b"other")), BODY.replace(b"xYzZY", b"other"), "invalid_payload_structure"),
    ({**HEADERS, "Content-Encoding": "gzip"}, gzip.compress(b"junk, not multipart"), "invalid_payload_structure"),
    ({**HEADERS, "Content-Encoding": "gzip"}, gzip.compress(BODY)[:-20], "bad_gzip"),
    (HEADERS, b"--xYzZY\r\nX-Nothing: 1\r\n\r\nbody\r\n--xYzZY--\r\n", "invalid_payload_structure"),
    (HEADERS, multipart(("extra", None, "application/json", b"{nope")), "invalid_json"),
    (HEADERS, multipart(("extra", None, "application/json", b"[1, 2]")), "invalid_json_value"),
    (headers(multipart(("upload_file_minidump", "a", None, b"x"))), multipart(("upload_file_minidump", "a", None, b"x")),
     "no_annotations"),
    (headers(multipart()), multipart(), "no_annotations"),
    (HEADERS, multipart(("P", None, None, b"x"), ("raw_crash", "a", None, b"x")), "invalid_dump_name"),
    (HEADERS, multipart(("P", None, None, b"x"), ("../dump_names", "a", None, b"x")), "invalid_dump_name"),
    (HEADERS, multipart(("P", None, None, b"x"), ("../..", "a", None, b"x")), "invalid_dump_name"),
])
def test_malformed(hdrs, body, reason):
    with pytest.raises(MalformedCrash) as error:
        parse_crash_payload(hdrs, [body])
    assert error.value.reason == reason


def test_truncated_gzip_is_bad_gzip():
    body = gzip.compress(BODY)[:-20]
    with pytest.raises(MalformedCrash, match="bad_gzip"):
        parse_crash_payload(headers(body, **{"Content-Encoding": "gzip"}), [body])


def test_gzip_bomb_stops_at_the_cap_without_inflating_it_all():
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1024 * 1024)
    bomb = b"".join(compressor.compress(block) for _ in range(64)) + compressor.flush()  # 64 MiB inflated
    inflated = []

    def counting(chunks):
        for chunk in chunks:
            inflated.append(len(chunk))
            yield chunk

    with pytest.raises(PayloadTooLarge):
        parse_crash_payload(headers(bomb, **{"Content-Encoding": "gzip"}), counting(chunks(bomb, 64 * 1024)),
                            Limits(max_decompressed_bytes=1024 * 1024))
    # The parser stopped reading (and inflating) right after passing the cap.
    assert sum(inflated) < 64 * 1024 * 3


def test_request_size_cap_counts_what_arrives():
    with pytest.raises(PayloadTooLarge):
        parse_crash_payload({"Content-Type": HEADERS["Content-Type"], "Transfer-Encoding": "chunked"},
                            chunks(BODY), Limits(max_request_bytes=len(BODY) - 1))


def test_announced_size_over_the_cap_is_refused_before_reading():
    def never():
        raise AssertionError("the body was read")
        yield b""

    with pytest.raises(PayloadTooLarge):
        parse_crash_payload(headers(b"x" * 101), never(), Limits(max_request_bytes=100))


def test_exactly_the_cap_passes():
    body = multipart(("P", None, None, b"x"), ("upload_file_minidump", "a", None, b"d" * 1000))
    assert parse_crash_payload(headers(body), chunks(body, 64), Limits(max_request_bytes=len(body))).dumps


def test_part_count_cap():
    body = multipart(*[(f"A{i}", None, None, b"x") for i in range(5)])
    with pytest.raises(PayloadTooLarge, match="more than 4 parts"):
        parse_crash_payload(headers(body), [body], Limits(max_parts=4))
    assert len(parse_crash_payload(headers(body), [body], Limits(max_parts=5)).annotations) == 5


def test_annotation_size_cap_does_not_apply_to_dumps():
    limits = Limits(max_annotation_bytes=10)
    body = multipart(("P", None, None, b"x"), ("upload_file_minidump", "a", None, b"d" * 100))
    assert parse_crash_payload(headers(body), [body], limits).dumps["upload_file_minidump"] == b"d" * 100
    body = multipart(("Comments", None, None, b"c" * 11))
    with pytest.raises(PayloadTooLarge):
        parse_crash_payload(headers(body), chunks(body, 3), limits)


# Random bodies, near-valid and not: the parser either parses or refuses with one of its
# two errors (answered 400/413); anything else would be a 500.
part_strategy = st.tuples(
    st.text(min_size=0, max_size=12),
    st.one_of(st.none(), st.text(max_size=8)),
    st.sampled_from([None, "application/json", "application/octet-stream", "text/plain; charset=utf-8"]),
    st.one_of(st.binary(max_size=200), st.sampled_from([b"{}", b'{"ProductName": "x"}', b"[]", b"null"])),
)


def _mangle(body: bytes, cut: int | None, noise: bytes) -> bytes:
    if cut is not None:
        body = body[: cut % (len(body) + 1)]
    return body + noise


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(part_strategy, max_size=6),
    cut=st.one_of(st.none(), st.integers(min_value=0)),
    noise=st.binary(max_size=40),
    chunk=st.integers(min_value=1, max_value=300),
    gzipped=st.booleans(),
)
def test_random_multipart_bodies_never_break_the_parser(parts, cut, noise, chunk, gzipped):
    safe = [(name.replace('"', ""), filename.replace('"', "") if filename else filename, ctype, data)
            for name, filename, ctype, data in parts]
    try:
        body = _mangle(multipart(*safe), cut, noise)
    except UnicodeEncodeError:
        return
    extra = {"Content-Encoding": "gzip"} if gzipped else {}
    if gzipped and cut is None:
        body = gzip.compress(body)
    try:
        payload = parse_crash_payload(headers(body, **extra), chunks(body, chunk), Limits(max_parts=5))
    except (MalformedCrash, PayloadTooLarge):
        return
    assert payload.annotations
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in payload.annotations.items())
    json.dumps(payload.annotations, sort_keys=True)


@settings(max_examples=200, deadline=2000)
@given(body=st.binary(max_size=500), boundary=st.text(st.characters(exclude_characters="\r\n"), min_size=1, max_size=20), chunk=st.integers(1, 64))
def test_random_bytes_never_break_the_parser(body, boundary, chunk):
    hdrs = {"Content-Type": f'multipart/form-data; boundary="{boundary}"', "Content-Length": str(len(body) or 1)}
    try:
        parse_crash_payload(hdrs, chunks(body, chunk))
    except (MalformedCrash, PayloadTooLarge):
        pass
