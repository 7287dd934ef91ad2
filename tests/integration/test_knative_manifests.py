"""The Knative manifests (``infra/knative/``), run as Knative would run them.

No cluster can start here, but the manifests' contract can be kept: each Service's container
is started from the image's command (``infra/container/Dockerfile``: its WORKDIR and CMD, or
the container's own command and args), with ``PORT`` set as Knative sets it, its ``env`` and
``envFrom`` values (the ConfigMap; the Secret an operator creates as the README says), and the
placeholders of ``config.yaml`` swapped for the local stack. Each is waited on at its
readiness path (or with Knative's default TCP check), then driven with what reaches it in
a cluster: crash uploads and API calls over HTTP, the CloudEvents the PingSources of
``schedules.yaml`` and the SQS IntegrationSource send (attributes and body as their
adapters send them), and the relay Deployment of ``relay.yaml``, started as it says.

Also: every ``CRASHFLOW_*`` name in the manifests is a settings field, and every setting
whose default only works locally (``Settings.local_default_fields``) is set for every
container by the ConfigMap or the Secret.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
import yaml

from conftest import DATA, REPO, TEST_NAMESPACE, free_port
from crashflow.settings import Settings
from crashflow.stores import postgres

pytestmark = pytest.mark.integration

KNATIVE = REPO / "infra" / "knative"
DOCKERFILE = REPO / "infra" / "container" / "Dockerfile"
FUNCTIONS = ("collect", "process", "aggregate", "query")
# Settings a container never reads: the relay talks to SQS and the functions only.
NOT_USED = {"relay": {"CRASHFLOW_PG_PASSWORD"}}
# The SQS IntegrationSource's events (eventing-integrations' aws-sqs-source; README.md).
SQS_SOURCE_ATTRIBUTES = {
    "ce-type": "dev.knative.eventing.aws-sqs",
    "ce-source": "dev.knative.eventing.aws-sqs-source",
    "ce-subject": "aws-sqs-source",
}


def documents(name: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((KNATIVE / name).read_text()) if doc]


def config_map() -> dict[str, str]:
    (config,) = documents("config.yaml")
    assert config["kind"] == "ConfigMap"
    return config["data"]


def services() -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in documents("services.yaml") if doc["kind"] == "Service"}


def relay_deployment() -> dict:
    (deployment,) = documents("relay.yaml")
    return deployment


def container_of(resource: dict) -> dict:
    (container,) = resource["spec"]["template"]["spec"]["containers"]
    return container


def image_command() -> tuple[list[str], str]:
    """The image's CMD (exec form) and WORKDIR."""
    text = DOCKERFILE.read_text()
    cmd = json.loads(re.findall(r"^CMD (\[.*\])$", text, re.M)[-1])
    workdir = re.findall(r"^WORKDIR (\S+)$", text, re.M)[-1]
    return cmd, workdir


def crashflow_names(value) -> set[str]:
    """Every CRASHFLOW_* name anywhere in a manifest document."""
    return set(re.findall(r"\bCRASHFLOW_[A-Z0-9_]+\b", json.dumps(value)))


def setting_names() -> set[str]:
    return {f"CRASHFLOW_{name.upper()}" for name in Settings.model_fields}


def secret_refs(container: dict) -> dict[str, str]:
    """env name -> key in crashflow-secrets."""
    refs = {}
    for item in container.get("env", []):
        ref = (item.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            assert ref["name"] == "crashflow-secrets", item
            refs[item["name"]] = ref["key"]
    return refs


# --- the static contract ---------------------------------------------------------------

def test_every_crashflow_name_in_the_manifests_is_a_setting():
    known = setting_names()
    for name in ("config.yaml", "services.yaml", "relay.yaml", "schedules.yaml", "sqs-integration-sources.yaml"):
        unknown = crashflow_names(documents(name)) - known
        assert not unknown, f"{name}: not settings fields: {sorted(unknown)}"


def test_every_local_only_default_is_set_for_every_container():
    config = config_map()
    containers = {name: container_of(service) for name, service in services().items()}
    containers["relay"] = container_of(relay_deployment())
    required = {f"CRASHFLOW_{name.upper()}" for name in Settings.local_default_fields()}
    for name, container in containers.items():
        assert {"configMapRef": {"name": "crashflow-config"}} in container["envFrom"], name
        given = set(config) | {item["name"] for item in container.get("env", [])}
        missing = required - given - NOT_USED.get(name, set())
        assert not missing, f"{name}: nothing sets {sorted(missing)}"
        # Values read from the Secret are set there under their own names.
        assert all(key == env for env, key in secret_refs(container).items()), name


def test_schedules_are_ping_sources_of_every_job_to_aggregate():
    from crashflow.aggregation import JOB_NAMES

    sources = [doc for doc in documents("schedules.yaml") if doc["kind"] == "PingSource"]
    jobs = [json.loads(source["spec"]["data"])["job"] for source in sources]
    assert sorted(jobs) == sorted(JOB_NAMES)
    for source in sources:
        assert source["spec"]["sink"]["ref"] == {"apiVersion": "serving.knative.dev/v1", "kind": "Service",
                                                  "name": "aggregate"}
        assert source["spec"]["contentType"] == "application/json"


def test_each_service_has_threads_for_its_concurrency():
    for name, service in services().items():
        spec = service["spec"]["template"]["spec"]
        env = {item["name"]: item.get("value") for item in container_of(service).get("env", [])}
        assert env["FUNCTION_TARGET"] == name
        # functions-framework's gunicorn serves THREADS requests at once: fewer than Knative
        # sends (containerConcurrency) would queue them inside the pod.
        assert int(env["THREADS"]) >= spec["containerConcurrency"], name


# --- the Services and the relay, started as the manifests say --------------------------

def local_values(settings: Settings, cache_dir: Path) -> dict[str, str]:
    """ConfigMap keys whose values name cluster hosts, AWS or image paths, and what stands in
    for them here. Each must be in the ConfigMap (a renamed key fails the test)."""
    return {
        "CRASHFLOW_NAMESPACE": settings.namespace,
        "CRASHFLOW_AWS_ENDPOINT_URL": settings.aws_endpoint_url,
        "CRASHFLOW_HBASE_HOST": settings.hbase_host,
        "CRASHFLOW_HBASE_THRIFT_PORT": str(settings.hbase_thrift_port),
        "CRASHFLOW_PG_HOST": settings.pg_host,
        "CRASHFLOW_PG_PORT": str(settings.pg_port),
        "CRASHFLOW_PG_USER": settings.pg_user,
        "CRASHFLOW_PG_DATABASE": settings.database,
        "CRASHFLOW_STACKWALKER": settings.stackwalker,
        "CRASHFLOW_SYMBOLS_CACHE_DIR": str(cache_dir),
    }


class Pod:
    """One container of a manifest, started as Kubernetes would start it."""

    def __init__(self, name: str, container: dict, env: dict[str, str], log_dir: Path):
        command, workdir = image_command()
        command = container.get("command") or command
        args = container.get("args") or ([] if container.get("command") else [])
        # The image's PATH holds the package's scripts: here, the venv's.
        executable = shutil.which(command[0], path=str(Path(sys.executable).parent))
        assert executable, command
        assert workdir == "/app", "the image keeps the repository's layout under WORKDIR"
        self.name = name
        self.log = open(log_dir / f"{name}.log", "ab")
        self.process = subprocess.Popen([executable, *command[1:], *args], cwd=REPO, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def wait_ready(pod: Pod, port: int, container: dict, timeout: float = 60) -> None:
    """The readiness probe's HTTP GET, or Knative's default TCP check on the port."""
    probe = (container.get("readinessProbe") or {}).get("httpGet")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert pod.process.poll() is None, f"{pod.name} exited; see its log"
        try:
            if probe:
                if requests.get(f"http://127.0.0.1:{port}{probe['path']}", timeout=2).status_code == 200:
                    return
            else:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
        except (requests.ConnectionError, OSError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{pod.name} not ready within {timeout}s")


@pytest.fixture(scope="module")
def cluster(stack, tmp_path_factory):
    """The four Services and the relay, on free ports, in the test namespace."""
    settings = stack
    cache = tmp_path_factory.mktemp("knative-symbols")
    logs = tmp_path_factory.mktemp("knative-logs")
    config = config_map()
    substitutes = local_values(settings, cache)
    assert set(substitutes) <= set(config), sorted(set(substitutes) - set(config))
    ports = {name: free_port() for name in FUNCTIONS}
    # In the cluster these are the Services' cluster-local addresses.
    substitutes["CRASHFLOW_PROCESS_URL"] = f"http://127.0.0.1:{ports['process']}"
    substitutes["CRASHFLOW_AGGREGATE_URL"] = f"http://127.0.0.1:{ports['aggregate']}"
    # The Secret, as README.md's `kubectl create secret` makes it (moto takes any keys).
    secret = {"CRASHFLOW_PG_PASSWORD": settings.pg_password,
              "CRASHFLOW_AWS_ACCESS_KEY_ID": "testing", "CRASHFLOW_AWS_SECRET_ACCESS_KEY": "testing"}
    # A container's environment is the image's and Kubernetes', not the test runner's.
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8",
            "AWS_EC2_METADATA_DISABLED": "true"}
    if "PYTHONPATH" in os.environ:  # the package under test, when it is not the venv's own
        base["PYTHONPATH"] = os.environ["PYTHONPATH"]

    def environment(container: dict, extra: dict[str, str]) -> dict[str, str]:
        env = dict(base)
        env.update({key: substitutes.get(key, value) for key, value in config.items()})
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = item["value"]
            else:
                key = item["valueFrom"]["secretKeyRef"]["key"]
                if key in secret:
                    env[item["name"]] = secret[key]
                else:
                    assert item["valueFrom"]["secretKeyRef"].get("optional"), item
        env.update(extra)
        return env

    pods, containers = {}, {}
    try:
        for name, service in services().items():
            container = containers[name] = container_of(service)
            env = environment(container, {
                "PORT": str(ports[name]),  # Knative sets PORT to the containerPort
                "HOST": "127.0.0.1",  # tests listen on loopback only
                "K_SERVICE": name, "K_CONFIGURATION": name, "K_REVISION": f"{name}-00001",
            })
            pods[name] = Pod(name, container, env, logs)
        for name in FUNCTIONS:
            wait_ready(pods[name], ports[name], containers[name])
        relay = container_of(relay_deployment())
        (relay_port,) = relay["ports"]
        ports["relay"] = free_port()  # stands for the container's metrics port
        relay_env = {"CRASHFLOW_RELAY_METRICS_HOST": "127.0.0.1", "CRASHFLOW_RELAY_METRICS_PORT": str(ports["relay"])}
        assert relay_port["containerPort"] == Settings.model_fields["relay_metrics_port"].default  # not a developer's own port
        yield {
            "settings": settings, "ports": ports, "pods": pods, "logs": logs,
            "start_relay": lambda: Pod("relay", relay, environment(relay, relay_env), logs),
        }
    finally:
        for pod in pods.values():
            pod.stop()


def url(cluster, name: str) -> str:
    return f"http://127.0.0.1:{cluster['ports'][name]}"


def submit(cluster, product: str) -> str:
    dump = (DATA / "minidumps" / "linux-mini.dmp").read_bytes()
    answer = requests.post(url(cluster, "collect") + "/submit", timeout=30,
                           data={"ProductName": product, "Version": "1.0"},
                           files={"upload_file_minidump": ("dump", dump)})
    assert answer.status_code == 200 and answer.text.startswith("CrashID=bp-"), answer.text
    return answer.text.strip().removeprefix("CrashID=bp-")


def processed(cluster, crash_id: str, timeout: float = 60) -> dict:
    """The crash as query serves it, once it is processed (from the queue, not on demand)."""
    connection = postgres.connect(cluster["settings"])
    try:
        deadline = time.monotonic() + timeout
        while not connection.run("SELECT 1 FROM reports WHERE uuid = :id", id=crash_id):
            assert time.monotonic() < deadline, f"{crash_id} was not processed in {timeout}s"
            time.sleep(0.5)
    finally:
        connection.close()
    answer = requests.get(url(cluster, "query") + "/api/ProcessedCrash/", params={"crash_id": crash_id}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_sqs_integration_source_events_are_processed(cluster):
    """What IntegrationSource POSTs: a binary CloudEvent whose data is the raw message body
    (``<id>`` or ``<id>:<ruleset>``), declared application/json."""
    crash_id = submit(cluster, "KnativeSqsSource")
    for body in (crash_id, f"{crash_id}:regenerate_signature"):
        answer = requests.post(url(cluster, "process") + "/", data=body.encode(), timeout=120, headers={
            **SQS_SOURCE_ATTRIBUTES, "ce-specversion": "1.0", "ce-id": str(uuid.uuid4()),
            "ce-time": dt.datetime.now(dt.timezone.utc).isoformat(), "Content-Type": "application/json",
        })
        assert answer.status_code == 200 and answer.json()["status"] == "processed", answer.text
    crash = processed(cluster, crash_id)
    assert crash["uuid"] == crash_id and crash["product"] == "KnativeSqsSource"
    assert crash["ruleset"] == "regenerate_signature" and crash["signature"]


def test_relay_deployment_delivers_the_queue_to_process(cluster):
    crash_id = submit(cluster, "KnativeRelay")  # collect queued it to the standard queue
    relay = cluster["start_relay"]()
    try:
        crash = processed(cluster, crash_id)
        # Its metrics: the delivery, and the queues' depths.
        deadline = time.monotonic() + 30
        while True:
            try:
                page = requests.get(url(cluster, "relay") + "/metrics", timeout=5).text
                if 'crashflow_relay_messages_total{queue="standard",result="delivered"}' in page:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the relay's metrics never showed the delivery"
            time.sleep(0.5)
        assert 'crashflow_queue_messages{queue="dead-letter",state="visible"}' in page
    finally:
        relay.stop()
    assert crash["product"] == "KnativeRelay" and crash["signature"]
    log = (cluster["logs"] / "relay.log").read_text()
    assert "schedule" not in log  # CRASHFLOW_SCHEDULES='{}': the PingSources fire the jobs


def test_ping_sources_run_every_aggregation_job(cluster):
    """Each PingSource of schedules.yaml, as Knative's ping adapter sends it: a binary
    CloudEvent of type dev.knative.sources.ping, its data as the spec gives it."""
    from crashflow.api.aggregates import latest_runs
    from crashflow.stores.postgres import Database

    sent = dt.datetime.now(dt.timezone.utc)
    sources = [doc for doc in documents("schedules.yaml") if doc["kind"] == "PingSource"]
    for source in sources:
        spec = source["spec"]
        answer = requests.post(url(cluster, "aggregate") + "/", data=spec["data"].encode(), timeout=600, headers={
            "ce-specversion": "1.0", "ce-id": str(uuid.uuid4()), "ce-type": "dev.knative.sources.ping",
            "ce-source": f"/apis/v1/namespaces/crashflow/pingsources/{source['metadata']['name']}",
            "ce-time": dt.datetime.now(dt.timezone.utc).isoformat(), "Content-Type": spec["contentType"],
        })
        assert 200 <= answer.status_code < 300, (source["metadata"]["name"], answer.status_code, answer.text)
    runs = {run["job"]: run for run in latest_runs(Database(cluster["settings"], size=1))}
    for source in sources:
        job = json.loads(source["spec"]["data"])["job"]
        assert runs[job]["started"] >= sent, job
        # bug_associations has no Bugzilla URL in the ConfigMap: recorded as skipped.
        assert runs[job]["status"] == ("skipped" if job == "bug_associations" else "ok"), runs[job]


def test_every_function_serves_its_metrics(cluster):
    pings = {"collect": ("GET", "/__lbheartbeat__"), "query": ("GET", "/__lbheartbeat__"),
             "process": ("GET", "/__lbheartbeat__"), "aggregate": ("POST", "/")}  # an event without a job: 400
    for name, (method, path) in pings.items():
        requests.request(method, url(cluster, name) + path, timeout=10)
        answer = requests.get(url(cluster, name) + "/metrics", timeout=10)
        assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain"), name
        assert re.search(rf'crashflow_http_requests_total{{[^}}]*function="{name}"', answer.text), name
