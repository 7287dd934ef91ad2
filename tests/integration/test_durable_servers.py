"""The local stack's S3 and SQS servers keep what they acknowledged across a SIGKILL and a
clean restart. Each test runs its own SeaweedFS and ElasticMQ (the `make up` scripts, with a
state folder and ports of its own), so that killing them disturbs no one else."""

from __future__ import annotations

import hashlib
import io
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "tests" / "bench"))
import chaos  # noqa: E402  (its free_port_pair)
from crashflow.crashids import date_from_crash_id
from crashflow.settings import Settings
from crashflow.stores import s3
from crashflow.stores.sqs import CrashQueues

pytestmark = pytest.mark.integration

SCRIPTS = REPO / "infra" / "local"


class OwnServers:
    """SeaweedFS and ElasticMQ started by infra/local/*.sh under ``state``."""

    def __init__(self, state: Path):
        rng, taken = random.Random(), set()
        free_port_pair = chaos.free_port_pair
        self.state = state
        self.env = dict(os.environ, CRASHFLOW_STATE=str(state))
        for name in ("S3_PORT", "SEAWEEDFS_MASTER_PORT", "SEAWEEDFS_VOLUME_PORT", "SEAWEEDFS_FILER_PORT",
                     "SQS_PORT"):
            self.env[f"CRASHFLOW_{name}"] = str(free_port_pair(taken, rng))
        self.settings = Settings(
            namespace="durable",
            s3_endpoint_url=f"http://127.0.0.1:{self.env['CRASHFLOW_S3_PORT']}",
            sqs_endpoint_url=f"http://127.0.0.1:{self.env['CRASHFLOW_SQS_PORT']}",
            queue_visibility_timeout=3,
        )

    def run(self, server: str, action: str) -> None:
        subprocess.run([str(SCRIPTS / f"{server}.sh"), action], env=self.env, check=True, timeout=300)

    def kill(self, server: str) -> None:
        """SIGKILL, as a crash or the OOM killer would, and wait until it is gone."""
        pid = int((self.state / "run" / f"{server}.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z":
            assert time.monotonic() < deadline, f"{server} (pid {pid}) survived SIGKILL"
            time.sleep(0.1)


@pytest.fixture
def servers(tmp_path):
    own = OwnServers(tmp_path / "state")
    yield own
    for server in ("elasticmq", "seaweedfs"):
        subprocess.run([str(SCRIPTS / f"{server}.sh"), "stop"], env=own.env, timeout=120)


def test_objects_survive_sigkill_and_restart(servers):
    servers.run("seaweedfs", "start")
    settings = servers.settings
    for bucket in (settings.crash_bucket, settings.symbols_bucket):
        s3.ensure_bucket(settings, bucket)
    storage = s3.CrashStorage(settings)
    rng = random.Random(16)
    crashes = {}
    for number in range(20):
        crash_id = f"de0{number:05d}-aaaa-4bbb-8ccc-dddddd261130"
        dumps = {"upload_file_minidump": rng.randbytes(rng.randrange(1, 600_000)), "memory_report": b"\0" * 10}
        storage.save_raw_crash(crash_id, {"uuid": crash_id, "ProductName": "Durable"}, dumps)
        crashes[crash_id] = dumps
    symbols = rng.randbytes(5_000_000)  # over the filer's 4 MB chunk size
    s3.SymbolStorage(settings).save("app.pdb/ABC/app.sym", io.BytesIO(symbols))

    # Killed right after its last answer: what it acknowledged is on disk.
    servers.kill("seaweedfs")
    servers.run("seaweedfs", "start")
    check_objects(settings, crashes, symbols)

    servers.run("seaweedfs", "stop")
    servers.run("seaweedfs", "start")
    check_objects(settings, crashes, symbols)


def check_objects(settings: Settings, crashes: dict[str, dict[str, bytes]], symbols: bytes) -> None:
    storage = s3.CrashStorage(settings)
    for crash_id, dumps in crashes.items():
        assert storage.load_raw_crash(crash_id)["uuid"] == crash_id
        loaded = {name: storage.load_dump(crash_id, name) for name in storage.load_dump_names(crash_id)}
        assert {name: hashlib.sha256(data).hexdigest() for name, data in loaded.items()} == {
            name: hashlib.sha256(data).hexdigest() for name, data in dumps.items()
        }
    stored = s3.SymbolStorage(settings).get("app.pdb/ABC/app.sym")
    assert stored is not None and hashlib.sha256(stored).digest() == hashlib.sha256(symbols).digest()
    assert storage.raw_crash_ids(date_from_crash_id(next(iter(crashes)))) == sorted(crashes)


def test_queued_messages_survive_sigkill_and_restart(servers):
    servers.run("elasticmq", "start")
    settings = servers.settings
    queues = CrashQueues(settings)
    queues.ensure_queues()
    bodies = [f"message-{number}" for number in range(45)]
    for start in range(0, len(bodies), 10):
        assert queues.publish_batch("standard", bodies[start : start + 10]) == []
    in_flight = queues.receive("standard", max_messages=5)
    assert len(in_flight) == 5

    servers.kill("elasticmq")
    servers.run("elasticmq", "start")
    queues = CrashQueues(settings)
    assert queues.count("standard") == 45  # visible and in flight

    servers.run("elasticmq", "stop")
    servers.run("elasticmq", "start")
    queues = CrashQueues(settings)
    received: dict[str, int] = {}
    deadline = time.monotonic() + 30
    while len(received) < 45:
        assert time.monotonic() < deadline, f"only {len(received)} of 45 messages came back"
        for message in queues.receive("standard", max_messages=10, wait_seconds=1):
            received[message.body] = message.receive_count
            queues.delete(message)
    assert sorted(received) == sorted(bodies)
    # Receive counts were kept too (the dead-letter redrive depends on them).
    assert all(received[message.body] == 2 for message in in_flight)
    assert queues.count("standard") == 0
    # The queue's attributes (visibility timeout, redrive policy) survived.
    attributes = queues.sqs.get_queue_attributes(QueueUrl=queues.url("standard"), AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "3" and "dead-letter" in attributes["RedrivePolicy"]
