"""Raw crash storage in S3, in Antenna's v1 layout.

- ``v1/raw_crash/<YYYYMMDD>/<crash id>``: the raw crash JSON (sorted keys)
- ``v1/dump_names/<crash id>``: JSON list of dump names
- ``v1/<dump name>/<crash id>``: each dump; ``upload_file_minidump`` is stored as ``dump``

Processed crashes live in HBase (``stores.hbase``), not here.
"""

from __future__ import annotations

import json

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from crashflow.crashids import date_from_crash_id
from crashflow.settings import Settings

MAIN_DUMP = "upload_file_minidump"


class CrashNotFound(LookupError):
    """No raw crash (or dump) stored under that crash id."""


def client(settings: Settings, service: str):
    """A boto3 client for ``service`` with crashflow's endpoint, credentials and retries."""
    return boto3.client(
        service,
        endpoint_url=settings.endpoint_url(service),
        region_name=settings.aws_region,
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=settings.aws_secret_access_key,
        config=Config(
            retries={"max_attempts": 4, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
        ),
    )


def ensure_bucket(settings: Settings, bucket: str) -> None:
    s3 = client(settings, "s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        s3.create_bucket(Bucket=bucket)


def dump_key(crash_id: str, name: str) -> str:
    return f"v1/{'dump' if name == MAIN_DUMP else name}/{crash_id}"


def raw_crash_key(crash_id: str) -> str:
    return f"v1/raw_crash/{date_from_crash_id(crash_id):%Y%m%d}/{crash_id}"


def _is_missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound")


class CrashStorage:
    """Raw crashes, dumps and processed crashes in the crash bucket."""

    def __init__(self, settings: Settings):
        self.bucket = settings.crash_bucket
        self.s3 = client(settings, "s3")

    def is_healthy(self) -> bool:
        try:
            self.s3.head_bucket(Bucket=self.bucket)
        except Exception:
            return False
        return True

    def _put(self, key: str, body: bytes, content_type: str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def _get(self, key: str) -> bytes:
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if _is_missing(error):
                raise CrashNotFound(key) from error
            raise

    def save_raw_crash(self, crash_id: str, raw_crash: dict, dumps: dict[str, bytes]) -> None:
        """Dumps first, then the dump names, then the raw crash: a raw crash that exists
        always has its dumps."""
        for name, data in dumps.items():
            self._put(dump_key(crash_id, name), data, "application/octet-stream")
        self._put(f"v1/dump_names/{crash_id}", json.dumps(sorted(dumps)).encode(), "application/json")
        body = json.dumps(raw_crash, sort_keys=True).encode()
        self._put(raw_crash_key(crash_id), body, "application/json")

    def load_raw_crash(self, crash_id: str) -> dict:
        return json.loads(self._get(raw_crash_key(crash_id)))

    def load_dump_names(self, crash_id: str) -> list[str]:
        return json.loads(self._get(f"v1/dump_names/{crash_id}"))

    def load_dump(self, crash_id: str, name: str) -> bytes:
        return self._get(dump_key(crash_id, name))

    def load_dumps(self, crash_id: str) -> dict[str, bytes]:
        return {name: self.load_dump(crash_id, name) for name in self.load_dump_names(crash_id)}


class SymbolStorage:
    """Breakpad .sym files in the symbols bucket, under the symbol server layout
    ``<debug_file>/<DEBUG_ID>/<name>.sym`` that process's symbol server reads."""

    def __init__(self, settings: Settings):
        self.bucket = settings.symbols_bucket
        self.s3 = client(settings, "s3")

    def save(self, key: str, fileobj, size: int | None = None) -> None:
        """Stream ``fileobj`` to ``key`` (multipart for large files)."""
        self.s3.upload_fileobj(fileobj, self.bucket, key, ExtraArgs={"ContentType": "text/plain"})
