"""Turns a crash upload (multipart, maybe gzipped, maybe chunked) into annotations and dumps.

The body is read in chunks through a size-capped gunzip and werkzeug's sans-io multipart
decoder, so neither a large body nor a gzip bomb is ever held whole in memory.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from werkzeug.datastructures import Headers
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

CHUNK_SIZE = 64 * 1024
RESERVED_DUMP_NAMES = {"raw_crash", "dump_names", "processed_crash"}
MULTIPART_TYPES = {"multipart/form-data", "multipart/mixed"}


class MalformedCrash(Exception):
    """The upload cannot be a crash report; ``reason`` is Socorro's malformed_<reason>."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class PayloadTooLarge(Exception):
    """The upload is over a configured size limit."""


@dataclass
class Limits:
    max_request_bytes: int = 25 * 1024 * 1024
    max_decompressed_bytes: int = 200 * 1024 * 1024
    max_parts: int = 64
    max_annotation_bytes: int = 1024 * 1024


@dataclass
class CrashPayload:
    """What a crash upload carried."""

    annotations: dict[str, str] = field(default_factory=dict)
    dumps: dict[str, bytes] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    kind: str = "multipart"
    compressed: bool = False
    size: int = 0


def sanitize_dump_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "", name)[:30]


def _read_capped(chunks: Iterable[bytes], limit: int, counter: list[int]) -> Iterator[bytes]:
    for chunk in chunks:
        counter[0] += len(chunk)
        if counter[0] > limit:
            raise PayloadTooLarge(f"request body over {limit} bytes")
        yield chunk


def _gunzip(chunks: Iterable[bytes], limit: int) -> Iterator[bytes]:
    """Decompress gzip chunks, refusing to produce more than ``limit`` bytes."""
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    produced = 0
    try:
        for chunk in chunks:
            data = chunk
            while data:
                # max_length bounds what one call may inflate: a bomb stops at the cap.
                out = decompressor.decompress(data, CHUNK_SIZE)
                produced += len(out)
                if produced > limit:
                    raise PayloadTooLarge(f"decompressed body over {limit} bytes")
                if out:
                    yield out
                data = decompressor.unconsumed_tail
        tail = decompressor.flush()
    except zlib.error as error:
        raise MalformedCrash("bad_gzip") from error
    if not decompressor.eof:
        raise MalformedCrash("bad_gzip")
    produced += len(tail)
    if produced > limit:
        raise PayloadTooLarge(f"decompressed body over {limit} bytes")
    if tail:
        yield tail


def parse_crash_payload(
    headers: Headers | dict,
    chunks: Iterable[bytes],
    limits: Limits | None = None,
) -> CrashPayload:
    """Parse an upload body given its request headers; raise MalformedCrash or PayloadTooLarge."""
    limits = limits or Limits()
    headers = Headers(headers)
    content_type = headers.get("Content-Type", "")
    if not content_type:
        raise MalformedCrash("no_content_type")
    mimetype, options = parse_options_header(content_type)
    if mimetype not in MULTIPART_TYPES:
        raise MalformedCrash("wrong_content_type")
    boundary = options.get("boundary", "")
    if not boundary:
        raise MalformedCrash("no_boundary")

    payload = CrashPayload()
    received = [0]
    body: Iterable[bytes] = _read_capped(chunks, limits.max_request_bytes, received)
    if headers.get("Content-Encoding", "").lower() == "gzip":
        payload.compressed = True
        body = _gunzip(body, limits.max_decompressed_bytes)

    _decode_multipart(body, boundary.encode("latin-1"), payload, limits)
    payload.size = received[0]

    if not payload.annotations:
        raise MalformedCrash("no_annotations")
    return payload


def _decode_multipart(body: Iterable[bytes], boundary: bytes, payload: CrashPayload, limits: Limits) -> None:
    decoder = MultipartDecoder(boundary, max_parts=limits.max_parts)
    current: Field | File | None = None
    buffer = bytearray()
    finished = False
    at_end = False

    def finish_part() -> None:
        assert current is not None
        if isinstance(current, File):
            _add_dump(payload, current.name, bytes(buffer))
        else:
            _add_annotation(payload, current.name, current.headers, bytes(buffer))

    try:
        for chunk in _with_end(body):
            at_end = chunk is None
            decoder.receive_data(chunk)
            event = decoder.next_event()
            while not isinstance(event, NeedData):
                if isinstance(event, (Field, File)):
                    current = event
                    buffer.clear()
                elif isinstance(event, Data) and current is not None:
                    buffer.extend(event.data)
                    if isinstance(current, Field) and len(buffer) > limits.max_annotation_bytes:
                        raise PayloadTooLarge(f"annotation {current.name!r} over {limits.max_annotation_bytes} bytes")
                    if not event.more_data:
                        finish_part()
                        current = None
                elif isinstance(event, Epilogue):
                    finished = True
                    break
                event = decoder.next_event()
            if finished:
                break
    except (MalformedCrash, PayloadTooLarge):
        raise
    except ValueError as error:
        # werkzeug reports broken multipart (bad headers, too many parts, a body that
        # ends inside a part) as ValueError.
        raise MalformedCrash("truncated_body" if at_end else "invalid_payload_structure") from error
    if not finished:
        raise MalformedCrash("truncated_body")


def _with_end(body: Iterable[bytes]) -> Iterator[bytes | None]:
    yield from body
    yield None


def _add_annotation(payload: CrashPayload, name: str, headers: Headers, value: bytes) -> None:
    mimetype, _ = parse_options_header(headers.get("Content-Type", "text/plain"))
    if mimetype == "application/json":
        try:
            data = json.loads(value)
        except ValueError as error:
            raise MalformedCrash("invalid_json") from error
        if not isinstance(data, dict):
            raise MalformedCrash("invalid_json_value")
        if payload.annotations:
            payload.notes.append(f"annotations both as form fields and JSON part {name!r}")
        payload.kind = "json"
        for key, item in data.items():
            payload.annotations[str(key)] = item if isinstance(item, str) else json.dumps(item)
        return
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = value.decode("utf-8", errors="replace")
        payload.notes.append(f"annotation {name!r} was not valid UTF-8")
    payload.annotations[name] = text


def _add_dump(payload: CrashPayload, name: str, data: bytes) -> None:
    clean = sanitize_dump_name(name)
    if not clean or clean in RESERVED_DUMP_NAMES:
        raise MalformedCrash("invalid_dump_name")
    if clean != name:
        payload.notes.append(f"dump name {name!r} sanitized to {clean!r}")
    if clean in payload.dumps:
        payload.notes.append(f"dump {clean!r} sent twice; kept the last")
    payload.dumps[clean] = data
