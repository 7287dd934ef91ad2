"""The crash bucket and the symbols bucket in S3 (keys: ``layout``).

Processed crashes live in HBase (``stores.hbase``), not here. Single objects are written and
read through libcurl (``stores.awshttp``: a fifth of boto3's CPU per request); listing,
deleting and multipart uploads go through boto3.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from typing import IO
from urllib.parse import quote

from botocore.exceptions import ClientError

from crashflow.settings import Settings
from crashflow.stores import layout
from crashflow.stores.awshttp import SignedHttp
from crashflow.stores.boto import boto3_client, unavailable_as
from crashflow.stores.errors import CrashNotFound, StoreUnavailable
from crashflow.stores.interfaces import SymbolFileReader


def ensure_bucket(settings: Settings, bucket: str) -> None:
    s3 = boto3_client(settings, "s3")
    with unavailable_as("s3"):
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError:
            s3.create_bucket(Bucket=bucket)


def raw_crash_objects(crash_id: str, raw_crash: dict, dumps: dict[str, bytes]):
    """(key, body, content type) of each object of a raw crash, in the order they must be
    written: dumps first, then the dump names, then the raw crash, so that a raw crash that
    exists always has its dumps."""
    for name, data in dumps.items():
        yield layout.dump_key(crash_id, name), data, "application/octet-stream"
    yield layout.dump_names_key(crash_id), json.dumps(sorted(dumps)).encode(), "application/json"
    yield layout.raw_crash_key(crash_id), json.dumps(raw_crash, sort_keys=True).encode(), "application/json"


class S3Objects:
    """Whole objects of one bucket, one request each, through ``SignedHttp``."""

    def __init__(self, settings: Settings, bucket: str):
        self.http = SignedHttp(settings, "s3")
        if self.http.endpoint:
            # A custom endpoint (moto, MinIO, ...): path-style addressing, as boto3 uses there.
            self.base = f"{self.http.endpoint}/{bucket}"
        else:
            self.base = f"https://{bucket}.s3.{settings.aws_region}.amazonaws.com"

    def url(self, key: str) -> str:
        return f"{self.base}/{quote(key)}"

    def put(self, key: str, body: bytes, content_type: str) -> None:
        # The body is not hashed into the signature, as the AWS SDKs do over HTTPS (TLS
        # protects it): hashing a 400 KB dump costs 0.27 ms, half of the PUT's CPU.
        self.http.request("PUT", self.url(key), body, [
            f"Content-Type: {content_type}", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
        ]).expect(f"PUT {key}")

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such key."""
        answer = self.http.request("GET", self.url(key))
        if answer.status == 404:
            return None
        return answer.expect(f"GET {key}").body

    def bucket_exists(self) -> bool:
        try:
            return self.http.request("HEAD", self.base + "/").status == 200
        except StoreUnavailable:
            return False


class CrashStorage:
    """Raw crashes and dumps in the crash bucket."""

    def __init__(self, settings: Settings):
        self.bucket = settings.crash_bucket
        self.s3 = boto3_client(settings, "s3")
        self.objects = S3Objects(settings, self.bucket)

    def is_healthy(self) -> bool:
        """Whether the crash bucket answers (asked every time)."""
        return self.objects.bucket_exists()

    def _put(self, key: str, body: bytes, content_type: str) -> None:
        self.objects.put(key, body, content_type)

    def _get(self, key: str) -> bytes:
        data = self.objects.get(key)
        if data is None:
            raise CrashNotFound(key)
        return data

    def save_raw_crash(self, crash_id: str, raw_crash: dict, dumps: dict[str, bytes]) -> None:
        for key, body, content_type in raw_crash_objects(crash_id, raw_crash, dumps):
            self._put(key, body, content_type)

    def load_raw_crash(self, crash_id: str) -> dict:
        return json.loads(self._get(layout.raw_crash_key(crash_id)))

    def load_dump_names(self, crash_id: str) -> list[str]:
        return json.loads(self._get(layout.dump_names_key(crash_id)))

    def load_dump(self, crash_id: str, name: str) -> bytes:
        return self._get(layout.dump_key(crash_id, name))

    def raw_crash_days(self) -> list[dt.date]:
        """The days that have raw crashes stored (the ``v1/raw_crash/<YYYYMMDD>/`` prefixes)."""
        paginator = self.s3.get_paginator("list_objects_v2")
        with unavailable_as("s3"):
            return [
                layout.day_of_raw_crash_prefix(prefix["Prefix"])
                for page in paginator.paginate(Bucket=self.bucket, Prefix=layout.RAW_CRASH_PREFIX, Delimiter="/")
                for prefix in page.get("CommonPrefixes", [])
            ]

    def raw_crash_ids(self, day: dt.date, limit: int = 1000, after: str = "") -> list[str]:
        """Up to ``limit`` crash ids with a raw crash submitted on ``day``, after ``after``."""
        prefix = layout.raw_crash_day_prefix(day)
        with unavailable_as("s3"):
            listing = self.s3.list_objects_v2(
                Bucket=self.bucket, Prefix=prefix, MaxKeys=limit, StartAfter=prefix + after
            )
        return [layout.crash_id_of_key(item["Key"]) for item in listing.get("Contents", [])]

    def delete_crashes(self, crash_ids: list[str], raw: bool) -> None:
        """Delete the dumps and dump names of ``crash_ids`` and, with ``raw``, their raw
        crashes (retention); 1000 keys a request, missing keys are no error."""
        keys = []
        for crash_id in crash_ids:
            try:
                names = self.load_dump_names(crash_id)
            except CrashNotFound:
                names = []
            keys += [layout.dump_key(crash_id, name) for name in names] + [layout.dump_names_key(crash_id)]
            if raw:
                keys.append(layout.raw_crash_key(crash_id))
        for start in range(0, len(keys), 1000):
            with unavailable_as("s3"):
                self.s3.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": key} for key in keys[start : start + 1000]], "Quiet": True},
                )


class SymbolStorage:
    """Breakpad .sym files in the symbols bucket, under ``layout.symbol_key``: uploads
    stream in through boto3 (multipart for large files); process reads them one GET each
    through libcurl into its cache. Files uploaded with sym-upload-v2 wait under
    ``layout.staged_symbol_key`` until the upload is completed."""

    # Stored with each file: lets a repeated upload be told from a changed one without
    # reading the file back.
    SHA256_METADATA = "sha256"

    def __init__(self, settings: Settings):
        self.bucket = settings.symbols_bucket
        self.s3 = boto3_client(settings, "s3")
        self.objects = S3Objects(settings, self.bucket)

    def get(self, key: str) -> bytes | None:
        return self.objects.get(key)

    def save(self, key: str, fileobj: IO[bytes], sha256: str | None = None) -> None:
        """Stream ``fileobj`` to ``key`` (multipart for large files)."""
        extra = {"ContentType": "text/plain"}
        if sha256:
            extra["Metadata"] = {self.SHA256_METADATA: sha256}
        with unavailable_as("s3"):
            self.s3.upload_fileobj(fileobj, self.bucket, key, ExtraArgs=extra)

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def size(self, key: str) -> int | None:
        """The file's size in bytes, None when there is no such file."""
        head = self._head(key)
        return None if head is None else head["ContentLength"]

    def open(self, key: str, chunk_size: int = 1024 * 1024) -> SymbolFileReader | None:
        """The file as a stream of chunks, None when there is no such file."""
        with unavailable_as("s3"):
            try:
                answer = self.s3.get_object(Bucket=self.bucket, Key=key)
            except ClientError as error:
                if _not_found(error):
                    return None
                raise
        return SymbolFileReader(answer["ContentLength"], self._chunks(answer["Body"], chunk_size))

    @staticmethod
    def _chunks(body, chunk_size: int) -> Iterator[bytes]:
        try:
            with unavailable_as("s3"):
                yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    def download_url(self, key: str, seconds: int) -> str:
        """A presigned GET URL of the file, valid for ``seconds`` (made without a request)."""
        with unavailable_as("s3"):
            return self.s3.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=seconds)

    def sha256(self, key: str) -> str | None:
        """The file's SHA-256 (hex), None when there is no such file; files stored without
        the checksum are read and hashed."""
        head = self._head(key)
        if head is None:
            return None
        known = head.get("Metadata", {}).get(self.SHA256_METADATA)
        if known:
            return known
        digest = hashlib.sha256()
        with unavailable_as("s3"):
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
            for chunk in body.iter_chunks(1024 * 1024):
                digest.update(chunk)
        return digest.hexdigest()

    def read_head(self, key: str, size: int) -> bytes | None:
        """The first ``size`` bytes of the file, None when there is no such file."""
        with unavailable_as("s3"):
            try:
                answer = self.s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{size - 1}")
            except ClientError as error:
                if _not_found(error):
                    return None
                raise
            return answer["Body"].read()

    def copy(self, source: str, target: str) -> None:
        """Copy within the bucket, metadata included (managed: multipart for large files)."""
        with unavailable_as("s3"):
            self.s3.copy({"Bucket": self.bucket, "Key": source}, self.bucket, target)

    def delete(self, key: str) -> None:
        with unavailable_as("s3"):
            self.s3.delete_object(Bucket=self.bucket, Key=key)

    def staged_before(self, cutoff: dt.datetime) -> list[str]:
        """Staged sym-upload-v2 files last written before ``cutoff`` (never completed)."""
        with unavailable_as("s3"):
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=layout.SYMBOL_STAGING_PREFIX
            )
            return [item["Key"] for page in pages for item in page.get("Contents", []) if item["LastModified"] < cutoff]

    def is_healthy(self) -> bool:
        return self.objects.bucket_exists()

    def _head(self, key: str) -> dict | None:
        with unavailable_as("s3"):
            try:
                return self.s3.head_object(Bucket=self.bucket, Key=key)
            except ClientError as error:
                if _not_found(error):
                    return None
                raise


def _not_found(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")
