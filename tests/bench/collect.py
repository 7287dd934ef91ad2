"""Collector benchmark: production-shaped crash uploads against the collect function as
deployed (functions-framework's gunicorn, started the way ``infra/local/functions.sh`` does),
loaded over loopback from this separate process, storing into the real moto S3/SQS and
HBase of its own namespace.

The corpus follows the 2017 production figures: dump sizes log-normal with median 400 KB
and p95 1.5 MB (capped at 3 MB), 20% of bodies gzip-compressed, half the annotations sent
as form fields and half as a JSON ``extra`` part. A second phase posts median-sized
(400 KB, plain) crashes only, for the "CPU per median crash" figure.

Prints JSON: crashes/s, p50/p99 latency, and the collector's CPU milliseconds per crash
(user + system time of the gunicorn master and all its workers, read from /proc, over the
measured phase, divided by crashes). Afterwards every CrashID is looked up in S3 and the
standard queue is counted: ``lost`` must be 0.

    .venv/bin/python tests/bench/collect.py                  # 600 + 300 crashes, 4 clients
    .venv/bin/python tests/bench/collect.py --crashes 100    # quicker
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gzip
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from crashflow.provision import provision
from crashflow.settings import Settings
from crashflow.stores.layout import dump_key, raw_crash_key
from crashflow.stores.s3 import CrashStorage
from crashflow.stores.sqs import CrashQueues

REPO = Path(__file__).resolve().parents[2]
MINIDUMP = (REPO / "tests" / "data" / "minidumps" / "test.dmp").read_bytes()
BOUNDARY = "------------------------benchBoundary0123456789"
MEDIAN_BYTES = 400 * 1024
P95_BYTES = 1500 * 1024
MAX_BYTES = 3 * 1024 * 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------- corpus

def dump_sizes(count: int, rng: random.Random) -> list[int]:
    """``count`` sizes at evenly spaced quantiles of the log-normal (so even a small corpus
    has the right median and p95), in random order."""
    sigma = math.log(P95_BYTES / MEDIAN_BYTES) / statistics.NormalDist().inv_cdf(0.95)
    shape = statistics.NormalDist(math.log(MEDIAN_BYTES), sigma)
    sizes = [min(MAX_BYTES, int(math.exp(shape.inv_cdf((i + 0.5) / count)))) for i in range(count)]
    rng.shuffle(sizes)
    return sizes


def fake_dump(size: int, rng: random.Random) -> bytes:
    """Half real minidump bytes repeated (compressible), half random (not), as real
    dumps are a mix of structure and memory contents."""
    structured = (MINIDUMP * (size // (2 * len(MINIDUMP)) + 1))[: size // 2]
    return structured + rng.randbytes(size - len(structured))


def annotations(rng: random.Random) -> dict[str, str]:
    return {
        "ProductName": "BenchApp", "Version": "120.0.1", "BuildID": "20261101093000",
        "ReleaseChannel": "release", "CrashTime": str(1_790_000_000 + rng.randrange(10**6)),
        "StartupTime": "1789999000", "InstallTime": "1780000000", "Throttleable": "1",
        "ProcessType": "main", "MozCrashReason": "MOZ_CRASH(bench)", "URL": "https://example.com/",
        "Add-ons": ",".join(f"addon{i}@example.com:1.{i}" for i in range(20)),
        "TelemetryEnvironment": json.dumps({"build": {"architecture": "x86-64"}, "settings": {"e10s": True}}),
        **{f"Annotation{i}": f"value-{rng.randrange(10**9)}" for i in range(20)},
    }


def multipart(fields: dict[str, str], dump: bytes, as_json: bool) -> bytes:
    out = []
    if as_json:
        out.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="extra"\r\n'
                   f"Content-Type: application/json\r\n\r\n".encode() + json.dumps(fields).encode() + b"\r\n")
    else:
        for name, value in fields.items():
            out.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
                       + value.encode() + b"\r\n")
    out.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="upload_file_minidump"; '
               f'filename="crash.dmp"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode() + dump + b"\r\n")
    out.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(out)


def corpus(count: int, seed: int) -> list[tuple[dict, bytes]]:
    """``count`` distinct (headers, body) uploads shaped like production."""
    rng = random.Random(seed)
    uploads = []
    gzipped = set(rng.sample(range(count), round(count * 0.2)))
    for index, size in enumerate(dump_sizes(count, rng)):
        body = multipart(annotations(rng), fake_dump(size, rng), as_json=index % 2 == 0)
        headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "User-Agent": "bench/1"}
        if index in gzipped:
            body = gzip.compress(body, compresslevel=6)
            headers["Content-Encoding"] = "gzip"
        uploads.append((headers, body))
    return uploads


def median_corpus(count: int, seed: int) -> list[tuple[dict, bytes]]:
    rng = random.Random(seed)
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "User-Agent": "bench/1"}
    return [(headers, multipart(annotations(rng), fake_dump(MEDIAN_BYTES, rng), as_json=True)) for _ in range(count)]


# ---------------------------------------------------------------------------- server

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_function(name: str, namespace: str, port: int, log_path: Path, **env_overrides: str) -> subprocess.Popen:
    """As infra/local/functions.sh: ``crashflow serve``, functions-framework's gunicorn."""
    env = dict(os.environ, CRASHFLOW_NAMESPACE=namespace, **env_overrides)
    log = open(log_path, "ab")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "crashflow"), "serve", "--source", str(REPO / "functions" / name / "main.py"),
         "--target", name, "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited; see {log_path}")
        try:
            requests.get(f"http://127.0.0.1:{port}/__lbheartbeat__", timeout=1)
            return process
        except requests.ConnectionError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"{name} did not start")


def start_collect(namespace: str, port: int, log_path: Path, **env_overrides: str) -> subprocess.Popen:
    return start_function("collect", namespace, port, log_path, **env_overrides)


def process_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").iterdir():
            children = (task / "children").read_text().split()
            todo.extend(int(child) for child in children)
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of each process (all its threads), in seconds."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


# ---------------------------------------------------------------------------- load

def run_load(url: str, uploads: list[tuple[dict, bytes]], crashes: int, clients: int):
    """Post ``crashes`` uploads (cycling through the corpus) with ``clients`` threads;
    the crash ids and per-request latencies."""
    local = threading.local()
    counter = iter(range(crashes))
    lock = threading.Lock()

    def client():
        if not hasattr(local, "session"):
            local.session = requests.Session()
        results = []
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return results
            headers, body = uploads[index % len(uploads)]
            started = time.perf_counter()
            answer = local.session.post(url, data=body, headers=headers, timeout=120)
            elapsed = time.perf_counter() - started
            results.append((answer.status_code, answer.text, elapsed))

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        outcomes = [item for future in [pool.submit(client) for _ in range(clients)] for item in future.result()]
    wall = time.perf_counter() - started
    crash_ids = [text.strip().removeprefix("CrashID=bp-") for status, text, _ in outcomes
                 if status == 200 and text.startswith("CrashID=bp-")]
    failures = [(status, text[:80]) for status, text, _ in outcomes if not (status == 200 and text.startswith("CrashID="))]
    return crash_ids, sorted(elapsed for _, _, elapsed in outcomes), wall, failures


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(round(fraction * (len(values) - 1))))]


def stack_parts() -> dict[str, int]:
    """The local stack's store servers this benchmark stores into, by name (their pid
    files under CRASHFLOW_STATE, or ./.local): whose CPU a crash costs besides collect's."""
    state = Path(os.environ.get("CRASHFLOW_STATE") or REPO / ".local")
    files = {"s3_seaweedfs": state / "run" / "seaweedfs.pid", "sqs_elasticmq": state / "run" / "elasticmq.pid",
             "s3_sqs_moto": state / "run" / "moto.pid", "hbase_thrift": state / "hbase" / "run" / "thrift.pid",
             "hbase_master": state / "hbase" / "run" / "master.pid"}
    parts = {}
    for name, path in files.items():
        try:
            pid = int(path.read_text().split()[0])
            Path(f"/proc/{pid}/stat").read_text()
        except (OSError, ValueError, IndexError):
            continue
        parts[name] = pid
    return parts


def measure(url: str, pid: int, uploads, crashes: int, clients: int) -> dict:
    pids = process_tree(pid)
    parts = {name: process_tree(part) for name, part in stack_parts().items()}
    cpu_before = cpu_seconds(pids)
    parts_before = {name: cpu_seconds(tree) for name, tree in parts.items()}
    client_before = sum(os.times()[:2])
    crash_ids, latencies, wall, failures = run_load(url, uploads, crashes, clients)
    cpu = cpu_seconds(pids) - cpu_before
    client_cpu = sum(os.times()[:2]) - client_before
    per_crash = 1000 / max(1, len(crash_ids))
    return {
        "crashes": len(crash_ids),
        "failures": failures[:5],
        "failed": len(failures),
        "seconds": round(wall, 2),
        "crashes_per_s": round(len(crash_ids) / wall, 1),
        "latency_p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "latency_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "collector_cpu_ms_per_crash": round(cpu * 1000 / max(1, len(crash_ids)), 2),
        "collector_processes": len(pids),
        # The rest of a crash's CPU: this load generator, and each store server it reaches.
        "client_cpu_ms_per_crash": round(client_cpu * per_crash, 2),
        "stores_cpu_ms_per_crash": {name: round((cpu_seconds(tree) - parts_before[name]) * per_crash, 2)
                                    for name, tree in parts.items()},
        "_crash_ids": crash_ids,
    }


def empty_request_cpu_ms(url: str, pid: int, count: int = 300) -> float:
    session = requests.Session()
    pids = process_tree(pid)
    before = cpu_seconds(pids)
    for _ in range(count):
        session.get(url, timeout=30)
    return round((cpu_seconds(pids) - before) * 1000 / count, 2)


def parse_only_cpu_ms(namespace: str, uploads, clients: int, count: int = 100) -> float:
    """CPU per median crash of a collector whose one rule rejects everything: nothing is
    stored or queued."""
    rules = Path(tempfile.mkdtemp()) / "reject.yaml"
    rules.write_text("rules:\n  - {name: everything, always: true, result: REJECT}\n")
    port = free_port()
    server = start_collect(namespace, port, REPO / ".local" / "logs" / "bench-collect.log",
                           CRASHFLOW_THROTTLE_RULES=str(rules))
    url = f"http://127.0.0.1:{port}/submit"
    try:
        run_load(url, uploads, 10, 2)
        pids = process_tree(server.pid)
        before = cpu_seconds(pids)
        run_load(url, uploads, count, clients)
        return round((cpu_seconds(pids) - before) * 1000 / count, 2)
    finally:
        server.terminate()
        server.wait(20)


def check_stored(settings: Settings, crash_ids: list[str]) -> int:
    """How many accepted crashes are missing their raw crash or dump in S3."""
    storage = CrashStorage(settings)
    lost = 0
    for crash_id in crash_ids:
        try:
            storage.s3.head_object(Bucket=storage.bucket, Key=raw_crash_key(crash_id))
            storage.s3.head_object(Bucket=storage.bucket, Key=dump_key(crash_id, "upload_file_minidump"))
        except Exception:
            lost += 1
    return lost


def drain(queues: CrashQueues) -> int:
    drained = 0
    while messages := queues.receive("standard", max_messages=10):
        for message in messages:
            queues.delete(message)
            drained += 1
    return drained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crashes", type=int, default=600, help="crashes in the production-shaped phase")
    parser.add_argument("--median-crashes", type=int, default=300, help="crashes in the median-only phase")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    parser.add_argument("--corpus", type=int, default=60, help="distinct uploads generated")
    parser.add_argument("--namespace", default="cfcollectbench")
    args = parser.parse_args()

    settings = Settings(namespace=args.namespace)
    provision(settings)
    queues = CrashQueues(settings)
    drain(queues)

    uploads = corpus(args.corpus, seed=1)
    body_bytes = sorted(len(body) for _, body in uploads)
    dump_bytes = sorted(dump_sizes(args.corpus, random.Random(1)))
    medians = median_corpus(min(args.corpus, 20), seed=2)

    port = free_port()
    (REPO / ".local" / "logs").mkdir(parents=True, exist_ok=True)
    server = start_collect(args.namespace, port, REPO / ".local" / "logs" / "bench-collect.log")
    url = f"http://127.0.0.1:{port}/submit"
    try:
        run_load(url, uploads, 20, 2)  # warm up: imports, connections, first HBase pool
        drain(queues)
        mixed = measure(url, server.pid, uploads, args.crashes, args.clients)
        median = measure(url, server.pid, medians, args.median_crashes, args.clients)
        empty = empty_request_cpu_ms(f"http://127.0.0.1:{port}/__lbheartbeat__", server.pid)
    finally:
        server.terminate()
        server.wait(20)
    parse_only = parse_only_cpu_ms(args.namespace, medians, args.clients)

    crash_ids = mixed.pop("_crash_ids") + median.pop("_crash_ids")
    queued = drain(queues)
    lost = check_stored(settings, crash_ids)
    print(json.dumps({
        "corpus": {
            "uploads": len(uploads),
            "dump_median_kb": round(statistics.median(dump_bytes) / 1024),
            "dump_p95_kb": round(percentile(dump_bytes, 0.95) / 1024),
            "body_median_kb": round(statistics.median(body_bytes) / 1024),
            "body_p95_kb": round(percentile(body_bytes, 0.95) / 1024),
            "gzip_share": round(sum("Content-Encoding" in h for h, _ in uploads) / len(uploads), 2),
        },
        "server": "functions-framework (gunicorn gthread, WORKERS=%s, THREADS=%s)" % (
            os.environ.get("WORKERS", 1), os.environ.get("THREADS", (os.cpu_count() or 1) * 4)),
        "clients": args.clients,
        "production_mix": mixed,
        "median_400kb_only": median,
        # Where the median crash's CPU goes: the HTTP stack alone (an empty GET), and the
        # HTTP stack plus reading, gunzipping, parsing and throttling (every crash refused).
        "floor_empty_request_cpu_ms": empty,
        "median_parse_and_refuse_cpu_ms": parse_only,
        "accepted": len(crash_ids),
        "queued": queued,
        "lost": lost + max(0, len(crash_ids) - queued),
        "load_average": os.getloadavg(),
    }, indent=2))


if __name__ == "__main__":
    main()
