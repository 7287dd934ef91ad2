"""Chaos run: production-shaped crashes submitted at a steady rate while every part of the
local stack is killed with SIGKILL and brought back with `make up`; afterwards, only what
the README tells an operator to do (`crashflow dlq redrive`, `crashflow recover`), and then
a check that nothing accepted was lost or processed twice.

It runs a whole stack of its own (`make up` with a state folder and ports of its own;
`make down` at the end), talks only to 127.0.0.1 and is bounded in time (--deadline).

Clients behave as Breakpad and Crashpad do: a 5xx answer or a connection error is retried
(after 0.5 s, doubling up to 5 s, for at most --retry-window seconds); any other answer
than a CrashID is a failure. Faults, spread evenly over the submit phase, each of every
kind per round (--rounds): SIGKILL of a collect worker (while a client is mid-upload), a
process worker (while it walks a dump), the relay (while a delivery is in flight), the
HBase Thrift server, HBase itself, PostgreSQL, the S3 server (SeaweedFS) and the SQS
server (ElasticMQ), each followed at once by `make up`; and once, the S3 server stopped
for --stop-seconds before `make up`.

Checks, for every CrashID a client received: the raw crash and its dump are in S3 (the
dump's sha256 equal to what was sent); one `reports` row; one HBase record whose history
has one processing, or more only when a fault came between submit and its last processing
(a redelivery: "retried"); findable by SuperSearch; none left in a queue or the
dead-letter queue. And: no CrashID given to two uploads.

Prints JSON: crashes sent, accepted, retried by clients, lost (must be 0), processed twice
(must be 0), submit-to-processed p50/p90/max, time to drain after the last fault, the fault
schedule with each restart's duration, and the run's length.

    .venv/bin/python tests/bench/chaos.py                          # 10,000 crashes at 5/s
    .venv/bin/python tests/bench/chaos.py --crashes 300 --rounds 1  # what make test runs
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import datetime as dt
import gzip
import hashlib
import json
import os
import queue
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import collect as bench  # noqa: E402  (the collector benchmark's production-shaped corpus)

REPO = Path(__file__).resolve().parents[2]
PRODUCT = "ChaosApp"
VERSIONS = 20  # crashes are spread over versions, so that each SuperSearch window stays small
KILLS = ("collect_worker", "process_worker", "relay", "hbase_thrift", "hbase", "postgres", "s3", "sqs")


# ---------------------------------------------------------------------------- the stack

def free_port_pair(taken: set[int], rng: random.Random) -> int:
    """A free port whose port + 10000 is free too (SeaweedFS's gRPC ports)."""
    for _ in range(500):
        port = rng.randrange(20000, 30000)
        if port in taken or port + 10000 in taken:
            continue
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        taken.update((port, port + 10000))
        return port
    raise SystemExit("no free ports")


class Stack:
    """A `make up` stack under ``state``, on ports of its own."""

    PORTS = ("PG", "HBASE_THRIFT", "HBASE_ZK", "HBASE_MASTER", "HBASE_RS", "COLLECT", "PROCESS", "AGGREGATE",
             "QUERY", "S3", "SEAWEEDFS_MASTER", "SEAWEEDFS_VOLUME", "SEAWEEDFS_FILER", "SQS", "RELAY_METRICS")

    def __init__(self, state: Path):
        self.state = state
        rng, taken = random.Random(), set()
        env = {key: value for key, value in os.environ.items() if not key.startswith("CRASHFLOW_")}
        for keep in ("CRASHFLOW_CACHE", "CRASHFLOW_STACKWALKER"):
            if keep in os.environ:
                env[keep] = os.environ[keep]
        env["CRASHFLOW_STATE"] = str(state)
        env["CRASHFLOW_VENV"] = str(Path(sys.executable).parents[1])
        env["CRASHFLOW_SYMBOLS_CACHE_DIR"] = str(state / "symbols")
        for name in self.PORTS:
            env[f"CRASHFLOW_{name}_PORT"] = str(free_port_pair(taken, rng))
        self.env = env
        self.log = open(state / "chaos-make.log", "ab")
        from crashflow.settings import Settings

        self.settings = Settings(**{
            "pg_port": int(env["CRASHFLOW_PG_PORT"]),
            "hbase_thrift_port": int(env["CRASHFLOW_HBASE_THRIFT_PORT"]),
            "s3_port": int(env["CRASHFLOW_S3_PORT"]), "sqs_port": int(env["CRASHFLOW_SQS_PORT"]),
            "aws_endpoint_url": None, "s3_endpoint_url": None, "sqs_endpoint_url": None,
            "namespace": "crashflow",
        })
        self.collect_url = f"http://127.0.0.1:{env['CRASHFLOW_COLLECT_PORT']}"
        self.query_url = f"http://127.0.0.1:{env['CRASHFLOW_QUERY_PORT']}"

    def make(self, target: str, tries: int = 5) -> float:
        """`make TARGET` in this stack's environment (again while it fails: a part killed a
        moment ago may still hold its port); its seconds."""
        started = time.monotonic()
        for attempt in range(tries):
            done = subprocess.run(["make", "-C", str(REPO), target], env=self.env, stdout=self.log,
                                  stderr=subprocess.STDOUT, timeout=900)
            if done.returncode == 0:
                return round(time.monotonic() - started, 1)
            time.sleep(3 + 3 * attempt)
        raise SystemExit(f"make {target} failed {tries} times; see {self.state / 'chaos-make.log'}")

    def crashflow(self, *args: str) -> str:
        done = subprocess.run([str(Path(sys.executable).parent / "crashflow"), *args], env=self.env,
                              capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            raise SystemExit(f"crashflow {' '.join(args)} failed: {done.stderr[-2000:]}")
        return done.stdout.strip()

    # Process ids of the parts.
    def _pid_file(self, path: Path) -> int | None:
        try:
            return int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def pid(self, part: str) -> int | None:
        files = {
            "relay": self.state / "run" / "relay.pid",
            "collect": self.state / "run" / "collect.pid",
            "process": self.state / "run" / "process.pid",
            "hbase_thrift": self.state / "hbase" / "run" / "thrift.pid",
            "hbase": self.state / "hbase" / "run" / "master.pid",
            "s3": self.state / "run" / "seaweedfs.pid",
            "sqs": self.state / "run" / "elasticmq.pid",
        }
        if part == "postgres":
            return self.postmaster_pid()
        return self._pid_file(files[part])

    def postmaster_pid(self) -> int | None:
        """The postmaster: the parent of a backend serving this stack's port."""
        from crashflow.stores.postgres import connect

        try:
            connection = connect(self.settings, database="postgres")
        except Exception:
            return None
        try:
            backend = connection.run("SELECT pg_backend_pid()")[0][0]
        finally:
            connection.close()
        return parent_pid(backend)

    def worker_pid(self, function: str) -> int | None:
        """A gunicorn worker of the function (a child of its master)."""
        master = self.pid(function)
        children = child_pids(master) if master else []
        return children[0] if children else None


def child_pids(pid: int) -> list[int]:
    children = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            children += [int(child) for child in (task / "children").read_text().split()]
    except OSError:
        pass
    return children


def parent_pid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return None


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        for child in child_pids(current):
            found.append(child)
            todo.append(child)
    return found


def command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def kill_and_wait(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state == "Z":
            return
        time.sleep(0.05)


# ---------------------------------------------------------------------------- clients

@dataclass
class Upload:
    index: int
    fields: dict
    dump: bytes  # shared with the other uploads of the same corpus entry
    compressed: bool
    as_json: bool
    dump_sha256: str
    sent_at: float = 0.0  # wall clock of the first try
    attempts: int = 0
    answers: list = field(default_factory=list)  # status codes, or "connection" for errors
    crash_id: str | None = None
    failure: str | None = None


def make_uploads(count: int, corpus_size: int, seed: int = 16) -> list[Upload]:
    """``count`` uploads cycling through a production-shaped corpus (collect.py's sizes, 20%
    gzip, half the annotations as a JSON part), each with its own Version."""
    rng = random.Random(seed)
    corpus = []
    gzipped = set(rng.sample(range(corpus_size), round(corpus_size * 0.2)))
    for number, size in enumerate(bench.dump_sizes(corpus_size, rng)):
        dump = bench.fake_dump(size, rng)
        corpus.append((number in gzipped, number % 2 == 0, dump, hashlib.sha256(dump).hexdigest()))
    uploads = []
    for index in range(count):
        compressed, as_json, dump, digest = corpus[index % corpus_size]
        fields = bench.annotations(rng)
        fields.update(ProductName=PRODUCT, Version=f"1.{index % VERSIONS}", ChaosIndex=str(index))
        uploads.append(Upload(index, fields, dump, compressed, as_json, digest))
    return uploads


def request(upload: Upload) -> tuple[dict, bytes]:
    """The upload's headers and body, made when it is sent (10,000 bodies would not fit)."""
    body = bench.multipart(upload.fields, upload.dump, upload.as_json)
    headers = {"Content-Type": f"multipart/form-data; boundary={bench.BOUNDARY}", "User-Agent": "chaos/1"}
    if upload.compressed:
        body = gzip.compress(body, compresslevel=1)
        headers["Content-Encoding"] = "gzip"
    return headers, body


class Clients:
    """Sends uploads at ``rate`` per second with ``threads`` client threads."""

    def __init__(self, url: str, rate: float, threads: int, retry_window: float):
        self.url = url + "/submit"
        self.rate = rate
        self.threads = threads
        self.retry_window = retry_window
        self.in_flight = 0
        self.lock = threading.Lock()
        self.local = threading.local()

    def send(self, upload: Upload) -> None:
        session = getattr(self.local, "session", None) or requests.Session()
        self.local.session = session
        upload.sent_at = time.time()
        headers, body = request(upload)
        wait = 0.5
        while True:
            upload.attempts += 1
            with self.lock:
                self.in_flight += 1
            try:
                answer = session.post(self.url, data=body, headers=headers, timeout=60)
                status, text = answer.status_code, answer.text
            except requests.RequestException:
                status, text = "connection", ""
                session = self.local.session = requests.Session()
            finally:
                with self.lock:
                    self.in_flight -= 1
            upload.answers.append(status)
            if status == 200 and text.startswith("CrashID=bp-"):
                upload.crash_id = text.strip().removeprefix("CrashID=bp-")
                return
            if status != "connection" and not (isinstance(status, int) and status >= 500):
                upload.failure = f"{status}: {text[:100]}"
                return
            if time.time() - upload.sent_at > self.retry_window:
                upload.failure = f"gave up after {upload.attempts} tries (last {status})"
                return
            time.sleep(wait)
            wait = min(5.0, wait * 2)

    def run(self, uploads: list[Upload]) -> None:
        start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(self.threads, thread_name_prefix="client") as pool:
            futures = []
            for number, upload in enumerate(uploads):
                delay = start + number / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(self.send, upload))
            for future in futures:
                future.result()


# ---------------------------------------------------------------------------- faults

class Faults:
    """Kills parts of ``stack`` on a schedule and brings them back with `make up`."""

    def __init__(self, stack: Stack, clients: Clients, stop_seconds: float):
        self.stack = stack
        self.clients = clients
        self.stop_seconds = stop_seconds
        self.ran: list[dict] = []
        self.last_fault_end = 0.0
        # (when the part went down, when its `make up` ended), wall clock
        self.outages: list[tuple[float, float]] = []

    def wait_until(self, condition, seconds: float = 10) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.02)
        return False

    def walking(self) -> bool:
        """process holds a crash: one of its workers runs a stackwalker."""
        master = self.stack.pid("process")
        return bool(master) and any("minidump-stackwalk" in command(pid) for pid in descendants(master))

    def target(self, kind: str) -> tuple[int | None, str]:
        """The pid to kill, after waiting for a moment where the kill hurts."""
        stack = self.stack
        if kind == "collect_worker":
            hurt = self.wait_until(lambda: self.clients.in_flight > 0)
            return stack.worker_pid("collect"), "mid-upload" if hurt else "idle"
        if kind == "process_worker":
            hurt = self.wait_until(self.walking)
            return stack.worker_pid("process"), "walking a dump" if hurt else "idle"
        if kind == "relay":
            hurt = self.wait_until(self.walking)
            return stack.pid("relay"), "delivery in flight" if hurt else "idle"
        return stack.pid(kind), "any time"

    def kill(self, kind: str) -> None:
        started = time.time()
        pid, moment = self.target(kind)
        # A part can be between processes for a moment (a gunicorn worker being replaced
        # after an earlier fault, a pid file being rewritten): looked for again meanwhile.
        deadline = time.monotonic() + 30
        while pid is None and time.monotonic() < deadline:
            time.sleep(0.5)
            pid, moment = self.target(kind)
        if pid is None:
            self.ran.append({"at": round(started - self.t0, 1), "fault": kind, "error": "no process found"})
            return
        kill_and_wait(pid)
        killed = time.time()
        restart = self.stack.make("up")
        self.last_fault_end = time.time()
        self.outages.append((killed, self.last_fault_end))
        self.ran.append({"at": round(killed - self.t0, 1), "fault": f"SIGKILL {kind}", "pid": pid,
                         "moment": moment, "make_up_s": restart})

    def stop_store(self) -> None:
        started = time.time()
        subprocess.run([str(REPO / "infra" / "local" / "seaweedfs.sh"), "stop"], env=self.stack.env,
                       stdout=self.stack.log, stderr=subprocess.STDOUT, check=True, timeout=120)
        time.sleep(self.stop_seconds)
        restart = self.stack.make("up")
        self.last_fault_end = time.time()
        self.outages.append((started, self.last_fault_end))
        self.ran.append({"at": round(started - self.t0, 1), "fault": f"S3 server stopped {self.stop_seconds:.0f} s",
                         "make_up_s": restart})

    def run(self, schedule: list[str], duration: float, done: threading.Event) -> None:
        self.t0 = time.time()
        interval = duration / (len(schedule) + 1)
        for number, kind in enumerate(schedule, 1):
            if done.wait(max(0.0, self.t0 + number * interval - time.time())):
                break
            if kind == "stop_store":
                self.stop_store()
            else:
                self.kill(kind)


def fault_schedule(rounds: int, rng: random.Random) -> list[str]:
    schedule = []
    for round_number in range(rounds):
        kinds = list(KILLS)
        rng.shuffle(kinds)
        schedule += kinds
        if round_number == rounds // 2:
            schedule.append("stop_store")
    return schedule


# ---------------------------------------------------------------------------- checks

def queue_depth(stack: Stack, dead_letters: bool = True) -> int:
    """Messages waiting or in flight in the crash queues (and the dead-letter queue)."""
    from crashflow.stores.sqs import DEAD_LETTER, QUEUE_KINDS, CrashQueues

    queues = CrashQueues(stack.settings)
    return sum(queues.count(kind) for kind in (*QUEUE_KINDS, *([DEAD_LETTER] if dead_letters else [])))


def wait_queues_empty(stack: Stack, timeout: float) -> bool:
    """Until the crash queues hold nothing, waiting or in flight (or time is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if queue_depth(stack, dead_letters=False) == 0:
                return True
        except Exception:
            pass
        time.sleep(2)
    return False


def processed_count(stack: Stack) -> int:
    from crashflow.stores.postgres import connect

    connection = connect(stack.settings)
    try:
        return connection.run("SELECT count(DISTINCT uuid) FROM reports WHERE product = :p", p=PRODUCT)[0][0]
    finally:
        connection.close()


def wait_drained(stack: Stack, expected: int, timeout: float) -> bool:
    """Until the queues are empty and ``expected`` crashes have report rows (or time is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if queue_depth(stack) == 0 and processed_count(stack) >= expected:
                return True
        except Exception:
            pass
        time.sleep(2)
    return False


# What the stack's logs (plain text, appended to across restarts) say of each crash id.
LOG_TIME = "%Y-%m-%d %H:%M:%S,%f"
PROCESSED_LINE = re.compile(r"^(\S+ \S+) INFO crashflow\.processor\.service: processed ([0-9a-f-]{36}) \(")
# A crash is settled when processed, or when a redelivery finds it processed already (a try
# whose answer timed out after its writes had landed): the end of its wait either way.
SETTLED_LINE = re.compile(
    r"^(\S+ \S+) INFO crashflow\.processor\.service: (?:processed ([0-9a-f-]{36}) \(|([0-9a-f-]{36}) is processed already)")
FAILED_DELIVERY_LINE = re.compile(
    r"^(\S+ \S+) WARNING crashflow\.relay: process (?:answered \d+|unreachable) for ([0-9a-f-]{36})\b")


def log_times(path: Path, pattern: re.Pattern) -> dict[str, list[float]]:
    """Crash id -> the times of the lines of ``path`` that ``pattern`` matches (its groups:
    the line's time, then the crash id in whichever later group matched)."""
    found: dict[str, list[float]] = collections.defaultdict(list)
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return found
    for line in lines:
        if match := pattern.match(line):
            crash_id = next(group for group in match.groups()[1:] if group)
            found[crash_id].append(dt.datetime.strptime(match[1], LOG_TIME).timestamp())
    return found


def waits_after_return(failed: dict[str, list[float]], processed: dict[str, list[float]],
                       outages: list[tuple[float, float]]) -> list[float]:
    """For each crash whose delivery to process failed: seconds from the return of the part
    that was down (the end of the `make up` after the fault under way at its last failed
    delivery; with none under way, that delivery itself) to its processing."""
    waits = []
    for crash_id, failures in failed.items():
        last = max(failures)
        back = max([end for start, end in outages if start - 1 <= last <= end], default=last)
        done = [when for when in processed.get(crash_id, []) if when >= min(failures)]
        if done:
            waits.append(max(0.0, min(done) - back))
    return sorted(waits)


def check(stack: Stack, uploads: list[Upload], fault_times: list[float],
          outages: list[tuple[float, float]] = ()) -> dict:
    from crashflow.stores.hbase import CrashTable
    from crashflow.stores.postgres import connect
    from crashflow.stores.s3 import CrashNotFound, CrashStorage
    from crashflow.stores.sqs import DEAD_LETTER, CrashQueues

    accepted = [upload for upload in uploads if upload.crash_id]
    accepted_ids = {upload.crash_id for upload in accepted}
    storage, table = CrashStorage(stack.settings), CrashTable(stack.settings)
    problems: dict[str, list[str]] = collections.defaultdict(list)

    connection = connect(stack.settings)
    try:
        rows = dict(connection.run("SELECT uuid, count(*) FROM reports WHERE product = :p GROUP BY uuid", p=PRODUCT))
    finally:
        connection.close()

    searchable = set()
    for version in range(VERSIONS):
        offset = 0
        while True:
            answer = requests.get(f"{stack.query_url}/api/SuperSearch/", timeout=60, params={
                "product": PRODUCT, "version": f"1.{version}", "_columns": "uuid",
                "_results_number": 1000, "_results_offset": offset, "_facets": "signature"})
            answer.raise_for_status()
            hits = answer.json()["hits"]
            searchable.update(hit["uuid"] for hit in hits)
            if len(hits) < 1000:
                break
            offset += 1000

    latencies, retried = [], set()
    for upload in accepted:
        crash_id = upload.crash_id
        try:
            dump = storage.load_dump(crash_id, "upload_file_minidump")
            storage.load_raw_crash(crash_id)
            if hashlib.sha256(dump).hexdigest() != upload.dump_sha256:
                problems["dump_differs"].append(crash_id)
        except CrashNotFound:
            problems["not_in_s3"].append(crash_id)
        count = rows.get(crash_id, 0)
        if count != 1:
            problems["reports_rows_not_1" if count else "no_reports_row"].append(crash_id)
        _, history = table.raw_crash_and_history(crash_id)
        if not table.is_processed(crash_id) or not history:
            problems["no_hbase_record"].append(crash_id)
        elif len(history) > 1:
            first = dt.datetime.fromisoformat(history[0]["completed_datetime"]).timestamp()
            last = dt.datetime.fromisoformat(history[-1]["started_datetime"]).timestamp()
            # A second processing is a redelivery after a fault when some fault came while the
            # crash was on its way (between submit and its last processing).
            if any(upload.sent_at - 5 <= when <= last + 5 for when in fault_times):
                retried.add(crash_id)
            else:
                problems["processed_twice"].append(crash_id)
            if last - first < 0:
                problems["history_out_of_order"].append(crash_id)
        if history:
            done = dt.datetime.fromisoformat(history[0]["completed_datetime"]).timestamp()
            latencies.append(done - upload.sent_at)
        if crash_id not in searchable:
            problems["not_searchable"].append(crash_id)

    # Every processing logs one line: a crash processed twice at once (two deliveries side
    # by side, both finding it unprocessed) leaves one record, but two lines.
    processings = log_times(stack.state / "logs" / "process.log", PROCESSED_LINE)
    for upload in accepted:
        twice = len(processings.get(upload.crash_id, [])) > 1
        if twice and upload.crash_id not in retried and upload.crash_id not in problems.get("processed_twice", []):
            problems["processed_twice"].append(upload.crash_id)
    failed = log_times(stack.state / "logs" / "relay.log", FAILED_DELIVERY_LINE)
    settled = log_times(stack.state / "logs" / "process.log", SETTLED_LINE)
    waits = waits_after_return({i: t for i, t in failed.items() if i in accepted_ids}, settled, list(outages))

    ids = [upload.crash_id for upload in accepted]
    if len(set(ids)) != len(ids):
        problems["one_id_for_two_uploads"] = [i for i, n in collections.Counter(ids).items() if n > 1]
    dead = CrashQueues(stack.settings).count(DEAD_LETTER)
    orphans = len(searchable - set(ids))
    latencies.sort()
    lost = set()
    for name in ("not_in_s3", "dump_differs", "no_reports_row", "no_hbase_record", "not_searchable"):
        lost.update(problems.get(name, []))
    return {
        "lost": len(lost) + sum(1 for upload in uploads if upload.failure),
        "processed_twice": len(problems.get("processed_twice", [])) + len(problems.get("reports_rows_not_1", [])),
        "reprocessed_after_fault": len(retried),
        "left_in_dead_letter_queue": dead,
        "stored_twice_after_lost_answer": orphans,
        "problems": {name: {"count": len(ids), "first": ids[:5]} for name, ids in problems.items()},
        "submit_to_processed_s": {
            "p50": round(bench.percentile(latencies, 0.5), 1) if latencies else None,
            "p90": round(bench.percentile(latencies, 0.9), 1) if latencies else None,
            "max": round(latencies[-1], 1) if latencies else None,
        },
        # The "processed within 30 s once the part is back".
        "failed_delivery_to_processed_after_return_s": {
            "crashes": len(waits),
            "p50": round(bench.percentile(waits, 0.5), 1) if waits else None,
            "p90": round(bench.percentile(waits, 0.9), 1) if waits else None,
            "max": round(waits[-1], 1) if waits else None,
            "over_30_s": sum(1 for wait in waits if wait > 30),
        },
    }


# ---------------------------------------------------------------------------- main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crashes", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=5.0, help="crashes per second")
    parser.add_argument("--clients", type=int, default=16, help="client threads")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of one kill of each kind")
    parser.add_argument("--stop-seconds", type=float, default=60, help="how long the S3 server is stopped once")
    parser.add_argument("--retry-window", type=float, default=600, help="how long a client keeps retrying")
    parser.add_argument("--corpus", type=int, default=40, help="distinct dumps")
    parser.add_argument("--drain-timeout", type=float, default=1200)
    parser.add_argument("--state", type=Path, help="state folder (default: a new temporary one, removed after)")
    parser.add_argument("--keep", action="store_true", help="leave the stack running and its state")
    args = parser.parse_args()

    run_started = time.time()
    # /var/tmp: PostgreSQL (which runs as its own user) can reach a folder there.
    state = args.state or Path(tempfile.mkdtemp(prefix="crashflow-chaos-", dir="/var/tmp"))
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o755)  # PostgreSQL runs as its own user: it must reach its data folder in here
    stack = Stack(state)
    uploads = make_uploads(args.crashes, args.corpus)
    report: dict = {"crashes": args.crashes, "rate_per_s": args.rate, "state": str(state)}
    done = threading.Event()  # set: no more faults (the run ended, or was interrupted)
    fault_thread = None
    try:
        report["make_up_first_s"] = stack.make("up")
        clients = Clients(stack.collect_url, args.rate, args.clients, args.retry_window)
        faults = Faults(stack, clients, args.stop_seconds)
        schedule = fault_schedule(args.rounds, random.Random(args.crashes))
        fault_thread = threading.Thread(target=faults.run, args=(schedule, args.crashes / args.rate, done),
                                        daemon=True)
        fault_thread.start()
        clients.run(uploads)
        submit_end = time.time()
        fault_thread.join()

        # What the README tells an operator to do after faults, once the queues are drained.
        accepted = sum(1 for upload in uploads if upload.crash_id)
        wait_queues_empty(stack, args.drain_timeout)
        report["operator"] = [stack.crashflow("dlq", "redrive"), stack.crashflow("recover", "--days", "2")]
        drained = wait_drained(stack, accepted, args.drain_timeout)
        drained_at = time.time()

        fault_times = [faults.t0 + item["at"] for item in faults.ran]
        result = check(stack, uploads, fault_times, faults.outages)
        answers = collections.Counter(str(status) for upload in uploads for status in upload.answers)
        report.update({
            "sent": len(uploads),
            "accepted": accepted,
            "retried_by_clients": sum(1 for upload in uploads if upload.attempts > 1),
            "client_tries": sum(upload.attempts for upload in uploads),
            "answers_by_status": dict(answers),
            "client_failures": [upload.failure for upload in uploads if upload.failure][:10],
            **result,
            "drained": drained,
            "drain_after_last_fault_s": round(drained_at - max(faults.last_fault_end, submit_end), 1),
            "fault_schedule": faults.ran,
        })
    finally:
        done.set()
        if fault_thread is not None:
            fault_thread.join(900)  # a fault under way ends with its `make up`
        passed = report.get("lost") == 0 and report.get("processed_twice") == 0 and report.get("drained")
        if not args.keep:
            try:
                stack.make("down", tries=2)
            finally:
                if not args.state and passed:
                    shutil.rmtree(state, ignore_errors=True)
                elif not passed:
                    (state / "chaos-report.json").write_text(json.dumps(report, indent=2, default=str))
                    print(f"chaos: state, logs and report kept in {state}", file=sys.stderr)
    report["run_s"] = round(time.time() - run_started, 1)
    print(json.dumps(report, indent=2))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
