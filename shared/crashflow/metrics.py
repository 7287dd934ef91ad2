"""Every Prometheus metric crashflow exposes, in one place (the Grafana dashboard in
``infra/grafana/`` is checked against these names).

The functions run under gunicorn in prometheus_client's multiprocess mode (``crashflow
serve`` sets ``PROMETHEUS_MULTIPROC_DIR``): each worker writes its values to files there and
``/metrics`` adds them up. The relay is one process and serves the default registry.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

# Latency buckets in seconds: a crash upload or an API call takes milliseconds, a cold
# SuperSearch or a priority processing seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Stackwalks and aggregation jobs take up to minutes.
LONG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
# Upload sizes: a Linux minidump is tens of KB, a Windows one with memory up to tens of MB.
BYTE_BUCKETS = tuple(2**n for n in range(10, 26, 1))  # 1 KiB .. 32 MiB
# Submit to processed: seconds when the queue is empty, hours when it is backed up.
LAG_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 12 * 3600, 86400)

# --- collect ---------------------------------------------------------------------------
COLLECT_CRASHES = Counter(
    "crashflow_collect_crashes", "Crash uploads by outcome: accepted (stored), throttled (rejected or "
    "fake-accepted by a throttle rule), malformed, too_large, store_failed.", ["outcome"])
COLLECT_THROTTLE = Counter(
    "crashflow_collect_throttle", "Throttle decisions by rule and result (ACCEPT, DEFER, FAKEACCEPT, REJECT).",
    ["rule", "result"])
COLLECT_MALFORMED = Counter("crashflow_collect_malformed", "Malformed uploads by reason.", ["reason"])
COLLECT_PAYLOAD_BYTES = Histogram(
    "crashflow_collect_payload_bytes", "Size of crash uploads as sent (compressed if they were).",
    buckets=BYTE_BUCKETS)
COLLECT_STORE_ERRORS = Counter(
    "crashflow_collect_store_errors", "Failed calls to a store (s3, sqs, hbase) on the collect path.", ["store"])

# --- process ---------------------------------------------------------------------------
PROCESS_CRASHES = Counter(
    "crashflow_process_crashes", "Crash messages by status: processed, missing (not in storage), "
    "rejected (malformed message), error (a store failed; redelivered).", ["status", "ruleset"])
PROCESS_RETRIES = Counter(
    "crashflow_process_retries", "Deliveries answered 503 so that the queue delivers them again.")
PROCESS_STACKWALKER_SECONDS = Histogram(
    "crashflow_process_stackwalker_seconds", "Wall time of one minidump-stackwalk run.", buckets=LONG_BUCKETS)
PROCESS_SYMBOL_CACHE = Counter(
    "crashflow_process_symbol_cache", "Modules a walk needed, by whether the local symbol cache had them "
    "(hit) or not (miss).", ["result"])
PROCESS_SYMBOL_DOWNLOADS = Counter(
    "crashflow_process_symbol_downloads", "Symbol files asked of the symbols bucket: found or absent.", ["result"])
PROCESS_SYMBOL_DOWNLOAD_BYTES = Counter(
    "crashflow_process_symbol_download_bytes", "Bytes of symbol files fetched into the cache.")
PROCESS_LAG_SECONDS = Histogram(
    "crashflow_process_lag_seconds", "From the collector's submitted timestamp to the end of a crash's "
    "first processing.", buckets=LAG_BUCKETS)

# --- aggregate -------------------------------------------------------------------------
AGGREGATE_JOB_RUNS = Counter(
    "crashflow_aggregate_job_runs", "Aggregation job runs by job and result (ok, error, skipped).",
    ["job", "result"])
AGGREGATE_JOB_SECONDS = Histogram(
    "crashflow_aggregate_job_seconds", "Duration of aggregation job runs.", ["job"], buckets=LONG_BUCKETS)
AGGREGATE_ROWS_WRITTEN = Counter(
    "crashflow_aggregate_rows_written", "Rows written by aggregation job runs.", ["job"])
ALERTS_FIRED = Counter("crashflow_alerts_fired", "Alerts raised by alert rule and kind.", ["rule", "kind"])
ALERT_DELIVERIES = Counter(
    "crashflow_alert_deliveries", "Alert deliveries to webhooks by rule and result (delivered, failed).",
    ["rule", "result"])

# --- query -----------------------------------------------------------------------------
QUERY_PRIORITY = Counter(
    "crashflow_query_priority_processing", "Crashes asked for before they were processed, by how it "
    "ended: processed (in time), pending (answered 202, still processing), queued (process unreachable: "
    "sent to the priority queue).", ["outcome"])

# --- every HTTP function ---------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "crashflow_http_requests", "HTTP requests by function, endpoint, method and status.",
    ["function", "endpoint", "method", "status"])
HTTP_REQUEST_SECONDS = Histogram(
    "crashflow_http_request_seconds", "HTTP request latency by function and endpoint (until the answer "
    "is handed to the server).", ["function", "endpoint"], buckets=LATENCY_BUCKETS)

# --- relay -----------------------------------------------------------------------------
RELAY_MESSAGES = Counter(
    "crashflow_relay_messages", "Queue messages POSTed to process, by queue and result (delivered: 2xx; "
    "failed: left for redelivery).", ["queue", "result"])
RELAY_DEAD_LETTERS = Counter(
    "crashflow_relay_dead_letters", "Messages that failed their last allowed delivery: the queue's redrive "
    "policy moves them to the dead-letter queue.", ["queue"])
QUEUE_MESSAGES = Gauge(
    "crashflow_queue_messages", "Messages in each queue (visible: waiting; in_flight: received, not "
    "deleted), as SQS estimates them.", ["queue", "state"], multiprocess_mode="max")
QUEUE_OLDEST_AGE = Gauge(
    "crashflow_queue_oldest_message_age_seconds", "Age of the oldest message the relay last received "
    "from a queue that still holds messages (0 when empty).", ["queue"], multiprocess_mode="max")


# A metric's name says which function records it (crashflow_<owner>_...); any other name
# (crashflow_http_..., crashflow_queue_...) is shared.
OWNERS = ("collect", "process", "aggregate", "query", "relay")


class OwnMetrics:
    """A registry less the families another function records. prometheus_client creates an
    unlabelled metric's series, at zero, in every process that defines it: without this,
    collect's page would list process's stackwalker histogram."""

    def __init__(self, registry, function: str):
        self.registry = registry
        self.function = function

    def collect(self):
        for family in self.registry.collect():
            owner = family.name.split("_")[1] if family.name.startswith("crashflow_") else None
            if owner not in OWNERS or owner == self.function:
                yield family

    def restricted_registry(self, names):
        """As the registry's own (prometheus_client's server calls it for ``?name[]=``)."""
        return OwnMetrics(self.registry.restricted_registry(names), self.function)


def exposition(function: str) -> tuple[bytes, str]:
    """A function's metrics page (body, content type): every worker's values under gunicorn,
    this process's otherwise."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(OwnMetrics(registry, function)), CONTENT_TYPE_LATEST


HEALTH_PATHS = ("/", "/__heartbeat__", "/__lbheartbeat__", "/__version__")


def standard_endpoint(path: str) -> str:
    """The default endpoint label: the root and health paths by name, anything else ``other``
    (labels must stay a bounded set whatever clients ask for)."""
    return path if path in HEALTH_PATHS else "other"


def instrument_app(app, function: str, endpoint_of: Callable[[object], str] | None = None) -> None:
    """Serve ``/metrics`` on a function's Flask app and count and time its requests.
    ``endpoint_of(request)`` names the endpoint (a bounded set of labels)."""
    import flask

    endpoint_of = endpoint_of or (lambda request: standard_endpoint(request.path))

    def metrics_page():
        body, content_type = exposition(function)
        return flask.Response(body, mimetype=None, content_type=content_type)

    app.add_url_rule("/metrics", "crashflow_metrics", metrics_page, methods=["GET"])

    @app.before_request
    def start_timer():
        flask.g.crashflow_started = time.perf_counter()

    @app.after_request
    def observe(response):
        started = flask.g.pop("crashflow_started", None)
        path = flask.request.path
        if started is not None and path != "/metrics":
            endpoint = endpoint_of(flask.request)
            HTTP_REQUESTS.labels(function, endpoint, flask.request.method, str(response.status_code)).inc()
            HTTP_REQUEST_SECONDS.labels(function, endpoint).observe(time.perf_counter() - started)
        return response
