"""Turns a crash upload (multipart, maybe gzipped, maybe chunked) into annotations and dumps.

The body is read in chunks through a size-capped gunzip and the ``multipart`` package's
sans-io parser, so neither a large body nor a gzip bomb is ever held whole in memory; each
dump is collected once, in its own buffer, and handed on as is.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import multipart
from werkzeug.datastructures import Headers
from werkzeug.http import parse_options_header

# The most one inflate step may produce: a gzip bomb is stopped at most one step past the
# cap, and the parser gets large chunks (fewer events to handle).
CHUNK_SIZE = 1024 * 1024
RESERVED_DUMP_NAMES = {"raw_crash", "dump_names", "processed_crash"}
MULTIPART_TYPES = {"multipart/form-data", "multipart/mixed"}
# The annotations as one JSON object. The part's content type decides, not its filename:
# Firefox's crash reporter sends ``name="extra"; filename="extra.json"``.
JSON_CONTENT_TYPE = "application/json"
# A part without a filename is still a dump when it says it is binary.
DUMP_CONTENT_TYPES = {"application/octet-stream", "application/x-dmp"}


class MalformedCrash(Exception):
    """The upload cannot be a crash report; ``reason`` is the ``malformed_<reason>`` Socorro's
    collector answers for the same case (crashflow's own only where Socorro has no word:
    ``bad_content_length``, ``unsupported_content_encoding``)."""

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
    """What a crash upload carried. Dumps are the buffers they were read into."""

    annotations: dict[str, str] = field(default_factory=dict)
    dumps: dict[str, bytes | bytearray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    kind: str = "multipart"
    compressed: bool = False
    size: int = 0


def sanitize_dump_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "", name)[:30]


def check_body_length(headers: Headers, limit: int) -> None:
    """Refuse, before reading anything, a body that is announced too large, or that is
    neither announced (Content-Length) nor chunked."""
    length = headers.get("Content-Length")
    if length is None:
        if "chunked" not in headers.get("Transfer-Encoding", "").lower():
            raise MalformedCrash("no_content_length")
        return
    try:
        size = int(length)
    except ValueError:
        raise MalformedCrash("bad_content_length") from None
    if size <= 0:
        raise MalformedCrash("no_content_length")
    if size > limit:
        raise PayloadTooLarge(f"request body of {size} bytes is over {limit} bytes")


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
            if decompressor.eof:
                break
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
    check_body_length(headers, limits.max_request_bytes)

    payload = CrashPayload()
    received = [0]
    body: Iterable[bytes] = _read_capped(chunks, limits.max_request_bytes, received)
    encoding = headers.get("Content-Encoding", "").strip().lower()
    if encoding == "gzip":
        payload.compressed = True
        body = _gunzip(body, limits.max_decompressed_bytes)
    elif encoding not in ("", "identity"):
        raise MalformedCrash("unsupported_content_encoding")

    try:
        boundary_bytes = boundary.encode("latin-1")
    except UnicodeEncodeError:
        raise MalformedCrash("no_boundary") from None
    collected = _PartCollector()
    _decode_multipart(body, boundary_bytes, collected, limits)
    payload.size = received[0]
    announced = headers.get("Content-Length")
    if announced is not None and payload.size < int(announced):
        # The server's stream just ends early when the client stops sending.
        raise MalformedCrash("invalid_payload_structure")
    collected.fill(payload)

    if not payload.annotations:
        raise MalformedCrash("no_annotations")
    return payload


class _PartCollector:
    """Gathers the parts: form-field annotations, JSON-part annotations and dumps."""

    def __init__(self):
        self.fields: dict[str, str] = {}
        self.json_annotations: dict[str, str] = {}
        self.json_parts = 0
        self.dumps: dict[str, bytearray] = {}
        self.notes: list[str] = []

    def start(self, part: multipart.MultipartSegment) -> tuple[bool, bytearray]:
        """Whether the part is a dump, and the buffer its data goes into."""
        if part.content_type == JSON_CONTENT_TYPE:
            return False, bytearray()
        is_dump = part.filename is not None or part.content_type in DUMP_CONTENT_TYPES
        return is_dump, bytearray()

    def finish(self, part: multipart.MultipartSegment, is_dump: bool, data: bytearray) -> None:
        if is_dump:
            self._add_dump(part.name, data)
        else:
            self._add_annotation(part.name, part.content_type, data)

    def _add_annotation(self, name: str | None, content_type: str | None, value: bytearray) -> None:
        if content_type == JSON_CONTENT_TYPE:
            try:
                data = json.loads(value)
            except ValueError as error:
                raise MalformedCrash("invalid_json") from error
            if not isinstance(data, dict):
                raise MalformedCrash("invalid_json_value")
            self.json_parts += 1
            for key, item in data.items():
                self.json_annotations[key] = item if isinstance(item, str) else json.dumps(item)
            return
        if not name:
            self.notes.append("a form field without a name was ignored")
            return
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = value.decode("utf-8", errors="replace")
            self.notes.append(f"annotation {name!r} was not valid UTF-8")
        self.fields[name] = text

    def _add_dump(self, name: str | None, data: bytearray) -> None:
        clean = sanitize_dump_name(name or "")
        if not clean or clean in RESERVED_DUMP_NAMES:
            raise MalformedCrash("invalid_dump_name")
        if clean != name:
            self.notes.append(f"dump name {name!r} sanitized to {clean!r}")
        if clean in self.dumps:
            self.notes.append(f"dump {clean!r} sent twice; kept the last")
        self.dumps[clean] = data

    def fill(self, payload: CrashPayload) -> None:
        """Move what was collected into ``payload``. The JSON part is the newer, complete
        form of the annotations, so its values win over form fields of the same name."""
        payload.annotations = {**self.fields, **self.json_annotations}
        if self.json_parts:
            payload.kind = "json"
        if self.json_parts > 1:
            self.notes.append(f"{self.json_parts} JSON annotation parts; later ones win")
        if self.fields and self.json_parts:
            overridden = sorted(set(self.fields) & set(self.json_annotations))
            self.notes.append(
                "annotations came both as form fields and as a JSON part"
                + (f"; JSON won for {', '.join(overridden)}" if overridden else "")
            )
        payload.dumps = dict(self.dumps)
        payload.notes = self.notes


class _PartParser(multipart.PushMultipartParser):
    """``multipart``'s parser, taking the parts of ``multipart/mixed`` bodies too: for a
    crash upload a part's disposition type does not matter, only its name (if any)."""

    def _create_segment(self, headerlist):
        segment = multipart.MultipartSegment(headerlist)
        if segment.disposition is None:
            raise multipart.ParserError("Missing Content-Disposition segment header")
        if segment.name is None:
            segment.name = ""
        return segment


def _decode_multipart(body: Iterable[bytes], boundary: bytes, parts: _PartCollector, limits: Limits) -> None:
    parser = _PartParser(boundary)
    current: multipart.MultipartSegment | None = None
    is_dump = False
    buffer = bytearray()
    count = 0
    chunks = _with_end(body)
    try:
        for chunk in chunks:
            for event in parser.parse(chunk):
                if isinstance(event, multipart.MultipartSegment):
                    count += 1
                    if count > limits.max_parts:
                        raise PayloadTooLarge(f"more than {limits.max_parts} parts")
                    current = event
                    is_dump, buffer = parts.start(event)
                elif event is None:
                    parts.finish(current, is_dump, buffer)
                    current = None
                else:
                    buffer += event
                    if not is_dump and len(buffer) > limits.max_annotation_bytes:
                        # Not named: the collector logs this at INFO, and an app's annotation names may be private.
                        raise PayloadTooLarge(f"an annotation over {limits.max_annotation_bytes} bytes")
            if parser.closed:
                break
        # Read past the closing boundary to the end of the body: a body that ends before
        # its Content-Length shows only there.
        for _ in chunks:
            pass
    except multipart.MultipartError as error:
        # Broken framing, or a body that ended before its closing boundary: Socorro's
        # collector says invalid_payload_structure for both.
        raise MalformedCrash("invalid_payload_structure") from error
    if not parser.closed:
        raise MalformedCrash("invalid_payload_structure")


def _with_end(body: Iterable[bytes]) -> Iterator[bytes]:
    """The body's chunks, then an empty one (the end, for the parser)."""
    for chunk in body:
        if chunk:
            yield chunk
    yield b""
