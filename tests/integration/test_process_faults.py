"""Faults on a real stack: HBase stopped mid-run, Postgres stopped mid-run, the function
killed mid-crash. After recovery every accepted crash is processed exactly once: one
``reports`` row and one processed HBase record each.

These tests stop services, so they run PRIVATE PostgreSQL and HBase instances on free ports
in a temporary state directory (started once per module, with ``infra/local/*.sh``); only
moto is shared, under a namespace of their own.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import REPO, TEST_NAMESPACE, FunctionServer, free_port
from crashflow import cli
from crashflow.provision import provision
from crashflow.relay import Relay, post_event
from crashflow.settings import Settings
from crashflow.stores.sqs import DEAD_LETTER, QUEUE_KINDS, CrashQueues
from process_support import dump_crash, processed_records, report_rows

pytestmark = pytest.mark.integration

# Moto is shared: the suite's own namespace keeps two suites run at once (by developers
# on one machine) off each other's queues.
NAMESPACE = f"{TEST_NAMESPACE}faults"


class PrivateStack:
    """PostgreSQL and HBase of our own, plus the process function, wired to each other."""

    def __init__(self):
        self.state = Path(tempfile.mkdtemp(prefix="crashflow-faults-", dir="/tmp"))
        self.state.chmod(0o755)  # PostgreSQL runs as the postgres user and must reach it
        self.env = dict(
            os.environ,
            CRASHFLOW_STATE=str(self.state),
            CRASHFLOW_NAMESPACE=NAMESPACE,
            CRASHFLOW_PG_PORT=str(free_port()),
            CRASHFLOW_HBASE_THRIFT_PORT=str(free_port()),
            CRASHFLOW_HBASE_ZK_PORT=str(free_port()),
            CRASHFLOW_HBASE_MASTER_PORT=str(free_port()),
            CRASHFLOW_HBASE_RS_PORT=str(free_port()),
            CRASHFLOW_HBASE_HEAP="384m",
            CRASHFLOW_HBASE_TIMEOUT_MS="5000",
            CRASHFLOW_SYMBOLS_CACHE_DIR=str(self.state / "symbols"),
            CRASHFLOW_QUEUE_VISIBILITY_TIMEOUT="2",
            CRASHFLOW_QUEUE_MAX_RECEIVES="3",
        )
        self.settings = Settings(
            namespace=NAMESPACE,
            pg_port=int(self.env["CRASHFLOW_PG_PORT"]),
            hbase_thrift_port=int(self.env["CRASHFLOW_HBASE_THRIFT_PORT"]),
            hbase_timeout_ms=5000,
            queue_visibility_timeout=2,
            queue_max_receives=3,
        )
        self.function: FunctionServer | None = None
        self.postgres_started = False

    def script(self, name: str, action: str) -> None:
        subprocess.run([str(REPO / "infra" / "local" / f"{name}.sh"), action], env=self.env, check=True,
                       stdout=subprocess.DEVNULL, timeout=240)

    def start_postgres(self) -> None:
        self.script("postgres", "start")
        # The script may move a data directory the postgres user cannot reach; ours must be ours.
        if not (self.state / "postgres" / "PG_VERSION").exists():
            raise RuntimeError(f"private PostgreSQL did not start in {self.state}")
        self.postgres_started = True

    def stop_postgres(self) -> None:
        if self.postgres_started:
            self.script("postgres", "stop")

    def kill_hbase(self, role: str) -> None:
        """Kill our HBase ``thrift`` gateway (what crashflow talks to) or ``master``."""
        pid_file = self.state / "hbase" / "run" / f"{role}.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text())
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.1)

    def kill_hbase_thrift(self) -> None:
        self.kill_hbase("thrift")

    def start_function(self, **env) -> None:
        (REPO / ".local" / "logs").mkdir(parents=True, exist_ok=True)  # FunctionServer logs there
        self.function = FunctionServer("process", free_port(), dict(self.env, **env))
        self.function.wait_ready(60)

    def kill_function(self) -> None:
        self.function.process.kill()
        self.function.process.wait()
        self.function.log.close()

    def close(self) -> None:
        if self.function and self.function.process.poll() is None:
            self.function.stop()
        # Its data is thrown away: no need for HBase's slow clean shutdown.
        for action in (lambda: self.kill_hbase("thrift"), lambda: self.kill_hbase("master"), self.stop_postgres):
            try:
                action()
            except Exception:  # keep cleaning up
                pass
        shutil.rmtree(self.state, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return not Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].startswith("Z")
    except (ProcessLookupError, FileNotFoundError):
        return False


@pytest.fixture(scope="module")
def private():
    stack = PrivateStack()
    try:
        stack.start_postgres()
        stack.script("hbase", "start")
        provision(stack.settings)
        queues = CrashQueues(stack.settings)
        for kind in (*QUEUE_KINDS, DEAD_LETTER):
            while messages := queues.receive(kind, max_messages=10):
                for message in messages:
                    queues.delete(message)
        stack.start_function()
        yield stack
    finally:
        stack.close()


class RelayThread:
    """The relay, delivering to the private function in the background as in production."""

    def __init__(self, stack: PrivateStack):
        self.stack = stack
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        relay = Relay(self.stack.settings.model_copy(update={"process_url": self.stack.function.url}))
        while not self.stop_event.is_set():
            relay.settings = relay.settings.model_copy(update={"process_url": self.stack.function.url})
            try:
                relay.drain_once(wait_seconds=1)
            except Exception:
                time.sleep(0.5)

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(30)


def submit(stack: PrivateStack, count: int) -> list[str]:
    queues = CrashQueues(stack.settings)
    crash_ids = [dump_crash(stack.settings, "test.dmp", ProductName="Faults") for _ in range(count)]
    for crash_id in crash_ids:
        queues.publish("standard", crash_id)
    return crash_ids


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def settle(stack: PrivateStack, crash_ids: list[str], monkeypatch, timeout: float = 90) -> None:
    """Wait until every crash is processed, moving dead letters back as an operator would."""
    monkeypatch.setattr(cli, "get_settings", lambda: stack.settings)
    deadline = time.monotonic() + timeout
    while len(processed_records(stack.settings, crash_ids)) < len(crash_ids):
        assert time.monotonic() < deadline, "crashes still unprocessed after recovery"
        if CrashQueues(stack.settings).count(DEAD_LETTER):
            result = CliRunner().invoke(cli.main, ["dlq", "redrive"])
            assert result.exit_code == 0, result.output
        time.sleep(1)


def assert_exactly_once(stack: PrivateStack, crash_ids: list[str]) -> None:
    assert report_rows(stack.settings, crash_ids) == {crash_id: 1 for crash_id in crash_ids}
    records = processed_records(stack.settings, crash_ids)
    assert sorted(records) == sorted(crash_ids)
    assert {record["signature"] for record in records.values()} == {"test_app.exe"}


def run_through_outage(stack: PrivateStack, monkeypatch, stop, start, while_down=None) -> None:
    """Crashes before, during and after a store outage; then exactly once each."""
    relay = RelayThread(stack)
    try:
        before = submit(stack, 3)
        wait_until(lambda: len(processed_records(stack.settings, before)) >= 1, 60, "a first crash")
        stop()
        during = submit(stack, 3)
        time.sleep(4)  # deliveries fail (503) and come back after the visibility timeout
        # A delivery now is answered 503, so the queue keeps the message.
        answer = post_event(f"{stack.function.url}/", "com.crashflow.crash.queued", "test", during[0], timeout=60)
        assert answer.status_code == 503, answer.text
        if while_down:
            while_down(during)
        start()
        settle(stack, before + during, monkeypatch)
    finally:
        relay.stop()
    assert_exactly_once(stack, before + during)


def test_hbase_stopped_mid_run(private, monkeypatch):
    run_through_outage(private, monkeypatch, private.kill_hbase_thrift, lambda: private.script("hbase", "start"))


def test_postgres_stopped_mid_run(private, monkeypatch):
    def nothing_half_written(crash_ids):
        assert not processed_records(private.settings, crash_ids)

    run_through_outage(private, monkeypatch, private.stop_postgres, private.start_postgres, nothing_half_written)


def test_the_same_message_delivered_twice(private, monkeypatch):
    relay = RelayThread(private)
    try:
        crash_ids = submit(private, 2)
        for crash_id in crash_ids:
            CrashQueues(private.settings).publish("standard", crash_id)
        settle(private, crash_ids, monkeypatch)
        time.sleep(3)  # let the duplicates through too
    finally:
        relay.stop()
    assert_exactly_once(private, crash_ids)


def test_the_function_killed_mid_crash(private, tmp_path, monkeypatch):
    # A stackwalker that takes a second, so the kill lands while a crash is in flight.
    slow = tmp_path / "slow-stackwalk"
    slow.write_text(f"#!/bin/sh\nsleep 1\nexec {private.settings.stackwalker} \"$@\"\n")
    slow.chmod(0o755)
    private.function.stop()
    private.start_function(CRASHFLOW_STACKWALKER=str(slow))
    relay = RelayThread(private)
    try:
        crash_ids = submit(private, 4)
        time.sleep(1.5)
        private.kill_function()
        assert len(processed_records(private.settings, crash_ids)) < len(crash_ids)  # work was cut off
        private.start_function()
        settle(private, crash_ids, monkeypatch)
    finally:
        relay.stop()
    assert_exactly_once(private, crash_ids)
