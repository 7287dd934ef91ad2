"""Which metric families a function's /metrics page lists."""

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from crashflow.metrics import OwnMetrics


def page(function: str) -> str:
    registry = CollectorRegistry()
    Counter("crashflow_process_retries", "process's", registry=registry)
    Histogram("crashflow_collect_payload_bytes", "collect's", registry=registry)
    Counter("crashflow_http_requests", "shared", ["function"], registry=registry).labels("collect").inc()
    Counter("crashflow_relay_messages", "relay's", registry=registry)
    return generate_latest(OwnMetrics(registry, function)).decode()


def test_a_function_lists_its_own_and_the_shared_families():
    text = page("collect")
    assert "crashflow_collect_payload_bytes_count 0.0" in text
    assert 'crashflow_http_requests_total{function="collect"} 1.0' in text
    assert "crashflow_process_retries" not in text
    assert "crashflow_relay_messages" not in text


def test_the_relay_lists_its_own():
    text = page("relay")
    assert "crashflow_relay_messages_total 0.0" in text
    assert "crashflow_collect_payload_bytes" not in text and "crashflow_process_retries" not in text


def test_a_name_filter_keeps_the_ownership():
    registry = CollectorRegistry()
    Counter("crashflow_process_retries", "process's", registry=registry)
    Counter("crashflow_query_things", "query's", registry=registry)
    restricted = OwnMetrics(registry, "query").restricted_registry(["crashflow_process_retries_total",
                                                                   "crashflow_query_things_total"])
    text = generate_latest(restricted).decode()
    assert "crashflow_query_things_total 0.0" in text and "crashflow_process_retries" not in text
