"""Operating the functions: /metrics moving as crashes flow, JSON logs that carry the crash
id, and gunicorn control sockets that do not collide."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import DATA, TEST_NAMESPACE, FunctionServer, free_port
from crashflow.relay import post_event

pytestmark = pytest.mark.integration


def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    answer = requests.get(url + "/metrics", timeout=10)
    assert answer.status_code == 200
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(answer.text) for sample in family.samples}


def value(samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def upload(url: str, product: str = "Metrics") -> requests.Response:
    dump = (DATA / "minidumps" / "linux-mini.dmp").read_bytes()
    return requests.post(url + "/submit", data={"ProductName": product, "Version": "1.0"},
                         files={"upload_file_minidump": ("dump", dump)}, timeout=30)


def test_metrics_move_as_crashes_flow(functions):
    collect, process, aggregate, query = (functions[name].url for name in ("collect", "process", "aggregate", "query"))
    before = {name: scrape(functions[name].url) for name in functions}

    answer = upload(collect)
    assert answer.status_code == 200
    crash_id = answer.text.strip().removeprefix("CrashID=bp-")
    assert requests.post(collect + "/submit", data=b"not multipart", timeout=10,
                         headers={"Content-Type": "text/plain"}).status_code == 400
    answer = post_event(process + "/", "com.crashflow.crash.queued", "crashflow/queue/standard", crash_id, timeout=120)
    assert answer.status_code == 200 and answer.json()["status"] == "processed"
    assert post_event(aggregate + "/", "dev.knative.sources.ping", "test", {"job": "crashes_per_day"},
                      timeout=300).status_code == 200
    assert requests.get(query + "/api/SuperSearch/", params={"product": "Metrics"}, timeout=30).status_code == 200
    assert requests.get(query + "/api/NoSuchThing/", timeout=30).status_code == 404

    after = {name: scrape(functions[name].url) for name in functions}

    def moved(server: str, name: str, **labels) -> float:
        return value(after[server], name, **labels) - value(before[server], name, **labels)

    assert moved("collect", "crashflow_collect_crashes_total", outcome="accepted") == 1
    assert moved("collect", "crashflow_collect_crashes_total", outcome="malformed") == 1
    assert moved("collect", "crashflow_collect_malformed_total", reason="wrong_content_type") == 1
    assert moved("collect", "crashflow_collect_throttle_total", rule="accept_everything", result="ACCEPT") >= 1
    assert moved("collect", "crashflow_collect_payload_bytes_count") == 1
    assert moved("collect", "crashflow_http_requests_total", function="collect", endpoint="/submit",
                 method="POST", status="200") == 1
    assert moved("collect", "crashflow_http_request_seconds_count", function="collect", endpoint="/submit") == 2

    assert moved("process", "crashflow_process_crashes_total", status="processed", ruleset="default") == 1
    assert moved("process", "crashflow_process_stackwalker_seconds_count") >= 1
    assert moved("process", "crashflow_process_lag_seconds_count") == 1
    assert moved("process", "crashflow_process_symbol_cache_total", result="miss") >= 1  # linux-mini has no symbols

    assert moved("aggregate", "crashflow_aggregate_job_runs_total", job="crashes_per_day", result="ok") == 1
    assert moved("aggregate", "crashflow_aggregate_job_seconds_count", job="crashes_per_day") == 1
    assert moved("aggregate", "crashflow_aggregate_rows_written_total", job="crashes_per_day") >= 1

    assert moved("query", "crashflow_http_requests_total", function="query", endpoint="/api/SuperSearch/",
                 method="GET", status="200") == 1
    assert moved("query", "crashflow_http_requests_total", function="query", endpoint="other",
                 method="GET", status="404") == 1

    # Each page lists its own function's metrics and the shared ones, not the others' (an
    # unlabelled metric exists, at zero, in every process that defines it).
    owners = {"collect", "process", "aggregate", "query"}
    for server, samples in after.items():
        foreign = {name for name, _ in samples if name.split("_")[1] in owners - {server}}
        assert not foreign, (server, sorted(foreign))


def test_priority_processing_outcomes_are_counted(functions, stack):
    from process_support import store_crash

    query = functions["query"].url
    before = scrape(query)
    crash_id = store_crash(stack, {"ProductName": "Metrics", "Version": "1.0"},
                           {"upload_file_minidump": (DATA / "minidumps" / "linux-mini.dmp").read_bytes()})
    answer = requests.get(query + "/api/ProcessedCrash/", params={"crash_id": crash_id}, timeout=60)
    assert answer.status_code in (200, 202)
    outcome = "processed" if answer.status_code == 200 else "pending"
    after = scrape(query)
    assert value(after, "crashflow_query_priority_processing_total", outcome=outcome) - value(
        before, "crashflow_query_priority_processing_total", outcome=outcome) == 1


def test_json_logs_carry_the_crash_id(stack, tmp_path):
    server = FunctionServer("collect", free_port(), {**os.environ, "CRASHFLOW_NAMESPACE": TEST_NAMESPACE,
                                                     "CRASHFLOW_LOG_FORMAT": "json"})
    log_path = Path(server.log.name)
    start = log_path.stat().st_size
    try:
        server.wait_ready()
        answer = upload(server.url, "JsonLogs")
        crash_id = answer.text.strip().removeprefix("CrashID=bp-")
        deadline = time.monotonic() + 10
        while True:
            with open(log_path, "rb") as log:
                log.seek(start)
                lines = [line for line in log.read().decode().splitlines() if line.startswith("{")]
            records = [json.loads(line) for line in lines]
            mine = [record for record in records if record.get("crash_id") == crash_id]
            if mine or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        server.stop()
    assert mine, lines
    assert any(record["message"].startswith(f"accepted {crash_id}") for record in mine)
    assert {"time", "level", "logger", "message"} <= set(mine[0])


def test_each_gunicorn_has_its_own_control_socket_or_none(stack, tmp_path):
    import subprocess
    import sys

    home = tmp_path / "home"
    home.mkdir()
    servers = []
    env = {**os.environ, "CRASHFLOW_NAMESPACE": TEST_NAMESPACE, "HOME": str(home)}
    env.pop("XDG_RUNTIME_DIR", None)
    try:
        for name, socket in (("collect", tmp_path / "run" / "collect.ctl"), ("query", tmp_path / "run" / "query.ctl"),
                             ("process", None)):
            port = free_port()
            command = [str(Path(sys.executable).parent / "crashflow"), "serve", "--target", name,
                       "--source", str(Path(__file__).resolve().parents[2] / "functions" / name / "main.py"),
                       "--host", "127.0.0.1", "--port", str(port)]
            if socket:
                command += ["--control-socket", str(socket)]
            servers.append((subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
                            port))
        for process, port in servers:
            deadline = time.monotonic() + 120  # as FunctionServer.wait_ready: three starting at once on a busy machine
            while True:
                try:
                    requests.get(f"http://127.0.0.1:{port}/__lbheartbeat__", timeout=1)
                    break
                except requests.ConnectionError:
                    assert process.poll() is None and time.monotonic() < deadline
                    time.sleep(0.2)
        # gunicorn's arbiter opens its control socket beside the workers, not before them.
        sockets = [tmp_path / "run" / "collect.ctl", tmp_path / "run" / "query.ctl"]
        deadline = time.monotonic() + 30
        while not all(socket.is_socket() for socket in sockets) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert all(socket.is_socket() for socket in sockets)
        assert not (home / ".gunicorn").exists()  # the default path nobody asked for
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait(15)
