"""Configuration: one settings class, read from ``CRASHFLOW_*`` environment variables.

Every default points at the local stack that ``make up`` starts, so a fresh clone works
with no configuration at all.
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

STACKWALKER_VERSION = "0.27.0"

# Marks a field whose default only works on the local stack (a loopback host, moto's dummy
# keys): a deployment must set it (infra/knative's ConfigMap or Secret does; a test checks).
LOCAL_DEFAULT = {"local_default": True}


def _cache_dir() -> Path:
    return Path(os.environ.get("CRASHFLOW_CACHE", Path.home() / ".cache" / "crashflow"))


def _default_stackwalker() -> str:
    cached = _cache_dir() / f"mdsw-{STACKWALKER_VERSION}" / "bin" / "minidump-stackwalk"
    if cached.exists():
        return str(cached)
    return shutil.which("minidump-stackwalk") or str(cached)


class Settings(BaseSettings):
    """All of crashflow's configuration."""

    model_config = SettingsConfigDict(env_prefix="CRASHFLOW_", extra="ignore")

    # Logging: level, and text or json (one object per line, with crash_id on every line
    # about one crash).
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    # Prefix of every bucket, queue, table and database name, so that several
    # installations (or the test suite) can share one set of services.
    namespace: str = "crashflow"

    # S3 and SQS: any compatible service. s3_/sqs_endpoint_url name one service's endpoint,
    # aws_endpoint_url both; an empty value means the AWS default. With none of the three
    # set, the local stack's servers (SeaweedFS's S3 gateway, ElasticMQ) on s3_/sqs_port.
    aws_endpoint_url: str | None = Field(default=None, json_schema_extra=LOCAL_DEFAULT)
    s3_endpoint_url: str | None = None
    sqs_endpoint_url: str | None = None
    s3_port: int = 8333
    sqs_port: int = 9324
    aws_region: str = "us-east-1"
    # Static keys (the local servers' dummies). Empty: the standard AWS chain (AWS_* variables,
    # AWS_PROFILE and the shared files, web identity such as EKS IRSA, container and instance
    # roles), session tokens included and refreshed before they expire (stores.credentials).
    aws_access_key_id: str | None = Field(default="testing", json_schema_extra=LOCAL_DEFAULT)
    aws_secret_access_key: str | None = Field(default="testing", json_schema_extra=LOCAL_DEFAULT)
    queue_max_receives: int = 5
    queue_visibility_timeout: int = 180
    # The local relay holds a message it delivers for relay_lease_seconds, extended while the
    # delivery runs (a killed relay's messages come back that soon); a failed delivery comes
    # back after relay_retry_seconds, doubling per receive up to relay_retry_max_seconds.
    relay_lease_seconds: int = Field(default=30, ge=3)
    relay_retry_seconds: float = Field(default=1, ge=0)
    relay_retry_max_seconds: float = Field(default=20, ge=0)
    # The collector's queue publishes: an unreachable SQS must not hold a crash upload for
    # long (the crash is stored; `crashflow recover` queues it later). Seconds; attempts per
    # publish, the first included, on transient failures only (no answer, 429, 5xx, entries
    # SQS refused for now): 3 x 3 s plus 0.3 s of waits at most.
    collector_sqs_connect_timeout: float = 1.0
    collector_sqs_read_timeout: float = 2.0
    collector_sqs_max_attempts: int = Field(default=3, ge=1)

    # HBase through its Thrift1 gateway.
    hbase_host: str = Field(default="127.0.0.1", json_schema_extra=LOCAL_DEFAULT)
    hbase_thrift_port: int = 9090
    hbase_timeout_ms: int = 60_000
    hbase_collector_timeout_ms: int = 3_000
    # How long the collector's background HBase writer waits after a row for others to join
    # its batch (collector/indexer.py: ten rows a call cost HBase a fifth of one row a call).
    collector_index_linger_seconds: float = Field(default=0.2, ge=0)

    # PostgreSQL.
    pg_host: str = Field(default="127.0.0.1", json_schema_extra=LOCAL_DEFAULT)
    pg_port: int = Field(default=5433, json_schema_extra=LOCAL_DEFAULT)
    pg_user: str = "crashflow"
    pg_password: str = Field(default="crashflow", json_schema_extra=LOCAL_DEFAULT)
    pg_database: str | None = None  # defaults to the namespace

    # Collecting.
    throttle_rules: str = "accept_all.yaml"
    drop_annotations: list[str] = ["Email"]
    max_request_bytes: int = 25 * 1024 * 1024
    max_decompressed_bytes: int = 200 * 1024 * 1024
    max_parts: int = 64
    max_annotation_bytes: int = 1024 * 1024
    # Longest wait for the next bytes of an upload's body (seconds): a client that stalls
    # is answered 400 Discarded=malformed_timeout instead of holding a worker thread.
    collector_read_timeout: float = 30
    # Symbol upload (POST /symbols/upload): the archive as sent, and what it unpacks to.
    max_symbols_upload_bytes: int = 1024 * 1024 * 1024
    max_symbols_uncompressed_bytes: int = 4 * 1024 * 1024 * 1024
    # The collect function's public URL plus /symbols, as symbol uploaders reach it (for
    # sym-upload-v2's uploadUrl); unset: taken from the request that creates the upload.
    symbols_upload_base_url: str | None = None

    # Processing.
    stackwalker: str = Field(default_factory=_default_stackwalker)
    stackwalker_timeout: int = 120
    # Stackwalkers run at once (the rest wait their turn); 0: one per CPU this process may
    # use (on Knative, containerConcurrency 1 runs one crash per pod anyway).
    stackwalker_concurrency: int = Field(default=0, ge=0)
    symbols_cache_dir: Path = Field(default_factory=lambda: _cache_dir() / "symbols")
    symbols_cache_max_bytes: int = 2 * 1024**3
    # How long a symbol file the bucket lacked is not asked for again (reprocessing always
    # asks, and an upload ends it on every instance within symbols_upload_poll_seconds).
    symbols_missing_ttl: float = 600
    symbols_upload_poll_seconds: float = Field(default=2.0, gt=0)
    # A symbol upload queues for reprocessing the crashes of the last this many days that
    # missed its modules, at most symbols_reprocess_max of them (newest first); 0 days: none.
    symbols_reprocess_days: int = Field(default=7, ge=0)
    symbols_reprocess_max: int = Field(default=1000, ge=0)

    # Dockerflow's version.json (source, version, commit, build) for /__version__; unset:
    # the package version and the git checkout the code runs from.
    version_file: Path | None = None

    # Where the functions listen (locally) and reach each other.
    collect_port: int = 8001
    process_port: int = 8002
    aggregate_port: int = 8003
    query_port: int = 8004
    # Unset: the local ports above, on 127.0.0.1.
    # Where the relay serves its Prometheus metrics (/metrics); port 0: nowhere.
    relay_metrics_host: str = "0.0.0.0"
    relay_metrics_port: int = 8005
    process_url: str | None = Field(default=None, json_schema_extra=LOCAL_DEFAULT)
    aggregate_url: str | None = Field(default=None, json_schema_extra=LOCAL_DEFAULT)

    # Symbol server (GET /symbols/<debug_file>/<debug_id>/<name>.sym on query): public, or
    # only for tokens with view_symbols; a redirect to a presigned URL of the file, or
    # (false: for a bucket clients cannot reach) the bytes through query.
    symbols_public: bool = True
    symbols_server_redirect: bool = True

    # Query API.
    # Protected by default (crashflow.fields): a caller without view_pii sees only the fields
    # Socorro's schemas and crashflow.fields call public. An installation adds its own
    # annotations to the public ones (exact raw-crash names, never one a schema protects),
    # and may protect public fields too ("processed_crash.<dotted path>" or
    # "raw_crash.<annotation>"). Both are checked here, when the settings are read.
    public_annotations: list[str] = []
    protected_fields: list[str] = []
    # How long a token's permissions are trusted without asking Postgres (revocation delay).
    api_token_cache_seconds: float = 10
    # Requests per minute per client address (no token) and per token, counted by each query
    # process (query_workers of them per instance); 0 turns a limit off.
    api_rate_limit_per_minute: int = 600
    api_token_rate_limit_per_minute: int = 6000
    # Take the client address from the last X-Forwarded-For entry (behind a trusted proxy).
    api_trust_forwarded_for: bool = False
    # How long ProcessedCrash waits for priority processing before answering "pending".
    priority_wait_seconds: float = 10
    # How long a process keeps the overview endpoints' answers (TopCrashers, CrashesPerDay,
    # Products, NewSignatures, ...) in memory; each is also named by the job runs it comes
    # from, so a new run is seen at once. 0 turns this memory off.
    api_aggregates_cache_seconds: float = 60
    # Read the answers the aggregate function computed after the latest job runs
    # (overview_answers) instead of computing them again; false computes every one.
    api_precomputed_answers: bool = True
    # Longest a SuperSearch SQL statement may run before the search is refused (0: no limit).
    api_search_timeout_ms: int = 30_000
    # Postgres's parallel workers for one SuperSearch statement (max_parallel_workers_per_gather).
    # 0: each search runs in one process. Workers make a lone search of a few hundred thousand
    # reports a little faster but cost more CPU in all (on the UI bench's 2 cores, a week of a
    # product faceted by signature: 72 ms of CPU in one process, about 165 ms over three), so
    # under concurrent searches every one is slower. Raise it where the database has idle cores.
    api_search_parallel_workers: int = Field(default=0, ge=0)
    # gunicorn worker processes of the query function. A process renders one page at a time
    # (Python's interpreter lock), so on the UI bench's 2 cores two processes answer the
    # overview pages in about two thirds of the time under 4 concurrent clients. Each process
    # keeps its own memory caches and rate-limit buckets (see api_rate_limit_per_minute).
    query_workers: int = Field(default=2, ge=1)

    # Web UI. The key that signs session cookies; unset, the query function's instances
    # share one random key kept in Postgres (web_secrets). Set it to sign with your own.
    web_secret_key: str | None = None
    # How long a sign-in lasts (the token's own expiry and revocation end it sooner).
    web_session_hours: float = Field(default=12, gt=0)

    # Aggregation.
    # Schedules the relay fires: job name -> cron expression (UTC). Unset: every job's
    # own default (crashflow.aggregation.JOBS; infra/knative/schedules.yaml holds the same
    # for Knative's PingSources); {}: none. Job names are checked when the aggregate
    # function and the relay start.
    schedules: dict[str, str] | None = None
    # A scheduled run recomputes from (its last success's start - this) onwards: reports
    # submitted shortly before a run may still be processing.
    aggregation_late_hours: float = 2
    # One-day and three-day explosiveness divide by at least this many crashes.
    explosiveness_floor: float = 10
    # Correlations: signatures with at least min_crashes crashes of one product and OS in
    # window_days days; items kept when their share beats the baseline by min_difference.
    correlation_window_days: int = Field(default=1, ge=1, le=28)
    correlation_min_crashes: int = Field(default=10, ge=1)
    correlation_min_difference: float = Field(default=0.05, gt=0, le=1)
    # Bugzilla's REST bug endpoint (cf_crash_signature holds "[@ signature ]" tokens), e.g.
    # https://bugzilla.mozilla.org/rest/bug; empty: bug_associations has nothing to read.
    bugzilla_url: str | None = None
    bugzilla_api_key: str | None = None
    bugzilla_page_size: int = Field(default=500, ge=1)
    # Weekly reports partitions created ahead of time.
    partitions_ahead_weeks: int = Field(default=2, ge=0)
    # Retention in days: raw crashes (S3), processed crashes (HBase and reports rows) and
    # dumps (S3; at most the raw retention). Deletes go in batches of retention_batch_size.
    retention_raw_days: int = Field(default=3 * 365, ge=1)
    retention_processed_days: int = Field(default=3 * 365, ge=1)
    retention_dumps_days: int = Field(default=3 * 365, ge=1)
    retention_batch_size: int = Field(default=1000, ge=1, le=1000)

    # Alerts: the rules and webhooks (a YAML/JSON file, or the document itself; see
    # crashflow/alerts/rules.py), checked when the aggregate function starts; empty: none.
    alert_rules: str = ""
    # The query function's public address, for links in alerts (none: no links).
    public_url: str | None = None

    @field_validator("schedules")
    @classmethod
    def _check_cron_expressions(cls, schedules: dict[str, str] | None) -> dict[str, str] | None:
        from croniter import croniter

        for name, expression in (schedules or {}).items():
            if not croniter.is_valid(expression):
                raise ValueError(f"schedule for {name}: invalid cron expression {expression!r}")
        return schedules

    @field_validator("public_annotations", "protected_fields")
    @classmethod
    def _check_field_definitions(cls, entries: list[str], info) -> list[str]:
        from crashflow.fields import SETTING_CHECKS

        problems = SETTING_CHECKS[info.field_name](entries)
        if problems:
            raise ValueError("; ".join(problems))
        return entries

    @model_validator(mode="after")
    def _check_retention(self):
        if self.retention_dumps_days > self.retention_raw_days:
            raise ValueError("retention_dumps_days must not exceed retention_raw_days: a dump is kept with its raw crash")
        if self.retention_raw_days < self.retention_processed_days:
            # The raw annotations (with their protected fields) live in HBase too, next to the
            # processed crash, and go only at the processed cutoff.
            raise ValueError(
                "retention_raw_days must not be less than retention_processed_days: the raw "
                "annotations are kept in HBase with the processed crash until the processed cutoff"
            )
        return self

    @field_validator("aws_access_key_id", "aws_secret_access_key")
    @classmethod
    def _empty_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _check_keys(self):
        if bool(self.aws_access_key_id) != bool(self.aws_secret_access_key):
            raise ValueError(
                "set both aws_access_key_id and aws_secret_access_key, or neither (the standard AWS chain)"
            )
        return self

    @classmethod
    def local_default_fields(cls) -> list[str]:
        """The fields whose defaults only work on the local stack."""
        return [
            name for name, field in cls.model_fields.items()
            if (field.json_schema_extra or {}).get("local_default")
        ]

    def endpoint_url(self, service: str) -> str | None:
        """The endpoint for ``s3`` or ``sqs``: the service's own, else the shared one, else
        (neither set at all) the local stack's server; None lets boto3 use the AWS default."""
        specific = self.s3_endpoint_url if service == "s3" else self.sqs_endpoint_url
        if specific or self.aws_endpoint_url:
            return specific or self.aws_endpoint_url
        if specific is None and self.aws_endpoint_url is None:
            return f"http://127.0.0.1:{self.s3_port if service == 's3' else self.sqs_port}"
        return None

    @property
    def crash_bucket(self) -> str:
        return f"{self.namespace}-crashes"

    @property
    def symbols_bucket(self) -> str:
        return f"{self.namespace}-symbols"

    def queue_name(self, kind: str) -> str:
        """Name of the ``standard``, ``priority``, ``reprocessing`` or ``dead-letter`` queue."""
        return f"{self.namespace}-{kind}"

    @property
    def database(self) -> str:
        return self.pg_database or self.namespace.replace("-", "_")

    @property
    def process_base_url(self) -> str:
        return self.process_url or f"http://127.0.0.1:{self.process_port}"

    @property
    def aggregate_base_url(self) -> str:
        return self.aggregate_url or f"http://127.0.0.1:{self.aggregate_port}"


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
