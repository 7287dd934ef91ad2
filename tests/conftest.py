"""Shared fixtures. Integration tests run against the real local services (started by
``make test``) in their own namespace, ``crashflowtest``, so they never touch the data of
a stack started with ``make up``."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
# Several suites may share one set of services (say, parallel developers): each picks its own.
TEST_NAMESPACE = os.environ.get("CRASHFLOW_TEST_NAMESPACE", "crashflowtest")
# Nothing a test starts may reach past this machine: botocore's credential chain would ask
# the instance metadata address when it finds no keys.
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def settings():
    from crashflow.settings import Settings

    return Settings(namespace=TEST_NAMESPACE)


def durable_endpoints() -> dict[str, str]:
    """The S3 and SQS endpoints of the servers `make up` runs (SeaweedFS, ElasticMQ), on the
    ports `make test` started them on, as environment variables for a function."""
    from crashflow.settings import Settings

    ports = Settings()
    return {
        "CRASHFLOW_S3_ENDPOINT_URL": f"http://127.0.0.1:{ports.s3_port}",
        "CRASHFLOW_SQS_ENDPOINT_URL": f"http://127.0.0.1:{ports.sqs_port}",
    }


@pytest.fixture(scope="session")
def durable_settings():
    """Settings of a namespace of its own whose S3 and SQS are SeaweedFS and ElasticMQ."""
    from crashflow.settings import Settings

    endpoints = durable_endpoints()
    return Settings(
        namespace=f"{TEST_NAMESPACE}dur",
        s3_endpoint_url=endpoints["CRASHFLOW_S3_ENDPOINT_URL"],
        sqs_endpoint_url=endpoints["CRASHFLOW_SQS_ENDPOINT_URL"],
    )


def provision_fresh(settings):
    """Fresh buckets, queues, tables and database for ``settings.namespace``."""
    from crashflow.provision import provision
    from crashflow.stores import postgres, sqs

    admin = postgres.connect(settings, database="postgres")
    admin.run(f"DROP DATABASE IF EXISTS {settings.database} WITH (FORCE)")
    admin.close()
    provision(settings)

    queues = sqs.CrashQueues(settings)
    for kind in (*sqs.QUEUE_KINDS, sqs.DEAD_LETTER):
        # PurgeQueue may run once a minute only: drain instead.
        while messages := queues.receive(kind, max_messages=10):
            for message in messages:
                queues.delete(message)
    return settings


@pytest.fixture(scope="session")
def stack(settings):
    """Fresh buckets, queues, tables and database for the test namespace (S3/SQS: moto)."""
    return provision_fresh(settings)


@pytest.fixture(scope="session")
def durable_stack(durable_settings):
    """As ``stack``, on SeaweedFS and ElasticMQ."""
    return provision_fresh(durable_settings)


class FunctionServer:
    """One function served by ``crashflow serve`` (functions-framework's gunicorn) in a
    subprocess, as deployed; its metrics go to a directory of its own."""

    def __init__(self, name: str, port: int, env: dict):
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{self.port}"
        (REPO / ".local" / "logs").mkdir(parents=True, exist_ok=True)
        self.log = open(REPO / ".local" / "logs" / f"test-{name}.log", "ab")
        self.metrics_dir = tempfile.mkdtemp(prefix=f"crashflow-test-{name}-metrics-")
        env = {key: value for key, value in env.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "crashflow"), "serve",
                "--source", str(REPO / "functions" / name / "main.py"),
                "--target", name, "--host", "127.0.0.1", "--port", str(self.port),
                "--metrics-dir", self.metrics_dir,
            ],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 120) -> None:
        # Generous: on a loaded 2-core machine four functions starting at once take tens of
        # seconds of wall time each (measured: 6 s alone at load 14, over 30 s at load 25).
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see .local/logs/test-{self.name}.log")
            try:
                requests.get(self.url + "/__lbheartbeat__", timeout=5)
                return
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start in {timeout}s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        shutil.rmtree(self.metrics_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def functions_symbols_cache(tmp_path_factory):
    """The process function's on-disk symbol cache: a test that uploads symbols removes what
    the stackwalker cached of them, so later tests meet the symbols bucket as it is."""
    return tmp_path_factory.mktemp("symbols-cache")


def serve_functions(namespace: str, symbols_cache, **env_overrides):
    """The four functions, served over real HTTP, wired to each other and ``namespace``."""
    (REPO / ".local" / "logs").mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        CRASHFLOW_NAMESPACE=namespace,
        # A fresh symbol cache: what the stackwalker finds is what the test uploaded.
        CRASHFLOW_SYMBOLS_CACHE_DIR=str(symbols_cache),
        **env_overrides,
    )
    servers = {}
    ports = {name: free_port() for name in ("collect", "process", "aggregate", "query")}
    env["CRASHFLOW_PROCESS_URL"] = f"http://127.0.0.1:{ports['process']}"
    env["CRASHFLOW_AGGREGATE_URL"] = f"http://127.0.0.1:{ports['aggregate']}"
    try:
        for name, port in ports.items():
            servers[name] = FunctionServer(name, port, env)
        for server in servers.values():
            server.wait_ready()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="session")
def functions(stack, functions_symbols_cache):
    """The four functions on the test namespace (S3/SQS: moto)."""
    yield from serve_functions(TEST_NAMESPACE, functions_symbols_cache)


@pytest.fixture(scope="session")
def durable_symbols_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("durable-symbols-cache")


@pytest.fixture(scope="session")
def durable_functions(durable_stack, durable_symbols_cache):
    """The four functions on SeaweedFS and ElasticMQ, as `make up` runs them."""
    yield from serve_functions(durable_stack.namespace, durable_symbols_cache, **durable_endpoints())


def start_query_server(settings, functions, **overrides) -> FunctionServer:
    """A query function of its own (its settings: ``overrides``, CRASHFLOW_* without the
    prefix), wired to the test namespace and the fixture's process function."""
    env = dict(
        os.environ,
        CRASHFLOW_NAMESPACE=settings.namespace,
        CRASHFLOW_PROCESS_URL=functions["process"].url,
        CRASHFLOW_AGGREGATE_URL=functions["aggregate"].url,
    )
    env.update({f"CRASHFLOW_{name.upper()}": str(value) for name, value in overrides.items()})
    server = FunctionServer("query", free_port(), env)
    try:
        server.wait_ready()
    except BaseException:
        server.stop()  # never leave a server behind
        raise
    return server


def submit(functions, dump: str, product: str, **annotations) -> str:
    """Upload ``dump`` (from tests/data/minidumps) to the collect function; the crash id."""
    answer = requests.post(
        f"{functions['collect'].url}/submit",
        data={"ProductName": product, "Version": "2.0", **annotations},
        files={"upload_file_minidump": (dump, (DATA / "minidumps" / dump).read_bytes())},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.text.strip().removeprefix("CrashID=bp-")


def take_message(settings, kind: str, crash_id: str, timeout: float = 10) -> bool:
    """Take messages off queue ``kind`` until one asks to process ``crash_id`` (True) or
    ``timeout`` passes. Messages are read as the process function reads them (short form
    or JSON)."""
    from crashflow.messages import ProcessingRequest
    from crashflow.stores.sqs import CrashQueues

    queues = CrashQueues(settings)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in queues.receive(kind, max_messages=10, wait_seconds=1):
            queues.delete(message)
            if ProcessingRequest.from_message(message.body, queue=kind).crash_id == crash_id:
                return True
    return False
