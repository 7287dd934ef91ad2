"""Processing benchmark: N crashes through the process function (as deployed: functions-
framework's gunicorn, fed by the relay from SQS, storing into the real HBase and Postgres)
against the bare ``minidump-stackwalk`` on the same dumps, in the same run, with the same
symbols. The bare side runs one stackwalker per core (it is CPU-bound: more would not be
faster); the function gets ``--workers`` deliveries in flight, as the relay keeps them, since
its own time is partly spent waiting on the stores.

Corpus: the valid test minidumps in turn, their symbol files in the symbols bucket (the bare
stackwalker reads the same files from tests/data/symbols). Both sides get one warm-up pass
so neither pays for first symbol downloads in the measured phase.

Phases (1 and 2 alternate ``--rounds`` times over slices of the corpus, so both meet the
same load from whatever else runs on the machine):
1. bare: ``minidump-stackwalk --json`` on the slice, ``--parallel`` at a time.
2. throughput: the slice's crashes stored as collect stores them, then delivered to the
   function as Knative's SQS event source delivers queue messages (one binary CloudEvent
   per crash, ``--workers`` in flight); time from the first delivery until the last answer
   (the function answers once the crash is in Postgres and HBase).
3. the same through the local relay from moto's SQS, on ``--relay-crashes`` crashes. Kept
   apart from 2 because moto's ReceiveMessage costs it CPU in proportion to the messages
   the queue holds (about 28 ms per message received with 200 queued, on this 2-core
   machine): a cost of the local stand-in, not of the function.
4. lag: ``--lag-crashes`` crashes queued one by one at half the measured throughput;
   submit (queued) to searchable (its ``reports`` row visible) per crash, polled every 50 ms.

Prints JSON: crashes/s of both, the overhead ratio (function / bare throughput), p50/p95
lag, the machine load, and CPU milliseconds per crash: the bare stackwalker's, and the
function's own (its gunicorn worker) next to its stackwalker children's, with their ratio
(what the function would do on cores of its own, with the stores elsewhere as in
production). The CPU figures do not depend on what else runs on the machine; moto, HBase
and Postgres are not counted.

    .venv/bin/python tests/bench/process.py                 # 200 crashes
    .venv/bin/python tests/bench/process.py --crashes 40    # quicker
"""

from __future__ import annotations

import argparse
import concurrent.futures
import resource
import shutil
import datetime as dt
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from crashflow.crashids import create_crash_id
from crashflow.provision import provision
from crashflow.relay import Relay, post_event
from crashflow.settings import Settings
from crashflow.stores import postgres
from crashflow.stores.boto import boto3_client
from crashflow.stores.hbase import CrashTable
from crashflow.stores.s3 import CrashStorage
from crashflow.stores.sqs import DEAD_LETTER, QUEUE_KINDS, CrashQueues

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
DUMPS = [
    "test.dmp", "breakpad-linux_null_read_av.dmp", "breakpad-linux_raise_sigabrt.dmp",
    "breakpad-null_read_av.dmp", "invalid-parameter.dmp", "linux-mini.dmp",
    "pipeline-inlines-macos-segv.dmp", "simple-crashpad.dmp",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def padded_symbols(directory: Path, megabytes: int) -> Path:
    """A copy of the test symbols in ``directory`` whose test_app.sym is padded to about
    ``megabytes`` MB with synthetic functions (above the module's real code, so the walk
    and its signature do not change): the stackwalker parses a symbol file whole, and
    production ones are large (Firefox's xul.sym: hundreds of MB)."""
    target = directory / "symbols"
    shutil.copytree(DATA / "symbols", target)
    sym = next(target.glob("test_app.pdb/*/test_app.sym"))
    with sym.open("a") as out:
        address, index = 0x1000000, 0
        while out.tell() < megabytes * 1024 * 1024:
            lines = []
            for _ in range(1000):
                lines.append(f"FUNC {address:x} 10 0 synthetic_function_{index}\n{address:x} 10 {index % 5000 + 1} 1\n")
                address, index = address + 0x10, index + 1
            out.write("".join(lines))
    return target


def prepare(settings: Settings, symbols: Path = DATA / "symbols") -> None:
    provision(settings)
    queues = CrashQueues(settings)
    for kind in (*QUEUE_KINDS, DEAD_LETTER):
        while messages := queues.receive(kind, max_messages=10):
            for message in messages:
                queues.delete(message)
    s3 = boto3_client(settings, "s3")
    for path in symbols.rglob("*.sym"):
        s3.put_object(Bucket=settings.symbols_bucket, Key=path.relative_to(symbols).as_posix(), Body=path.read_bytes())


def clean_up(settings: Settings) -> None:
    """Empty the bench's buckets: moto keeps every object in memory."""
    s3 = boto3_client(settings, "s3")
    for bucket in (settings.crash_bucket, settings.symbols_bucket):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of a process itself, and of its reaped children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS, (int(fields[13]) + int(fields[14])) / CLOCK_TICKS


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def gunicorn_worker(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


def bare_stackwalk(settings: Settings, dumps: list[Path], parallel: int, symbols: Path) -> tuple[float, float]:
    """Seconds and CPU seconds for the bare stackwalker over ``dumps``."""
    def walk(path: Path) -> None:
        subprocess.run(
            [settings.stackwalker, "--json", "--no-color", "--verbose=error",
             f"--symbols-path={symbols}", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
        )
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        start, cpu = time.perf_counter(), children_cpu()
        list(pool.map(walk, dumps))
        return time.perf_counter() - start, children_cpu() - cpu


def store(settings: Settings, storage: CrashStorage, name: str, table: CrashTable | None = None) -> str:
    """Store a crash as collect does: S3, then its annotations in HBase."""
    now = dt.datetime.now(dt.timezone.utc)
    crash_id = create_crash_id(now)
    dump = (DATA / "minidumps" / name).read_bytes()
    raw_crash = {"ProductName": "Bench", "Version": "1.0", "uuid": crash_id,
                 "submitted_timestamp": now.isoformat(), "version": 2,
                 "metadata": {"dump_checksums": {"upload_file_minidump": hashlib.sha256(dump).hexdigest()}}}
    storage.save_raw_crash(crash_id, raw_crash, {"upload_file_minidump": dump})
    (table or CrashTable(settings)).put_raw_crashes([(crash_id, raw_crash)])
    return crash_id


class Searchable:
    """Which crashes have their ``reports`` row, over one connection (a new one per poll would
    cost more CPU than what is measured)."""

    def __init__(self, settings: Settings):
        self.connection = postgres.connect(settings)

    def __call__(self, crash_ids: list[str]) -> set[str]:
        rows = self.connection.run("SELECT uuid FROM reports WHERE uuid = ANY(:ids)", ids=crash_ids)
        return {row[0] for row in rows}


def start_function(settings: Settings, cache_dir: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, CRASHFLOW_NAMESPACE=settings.namespace, CRASHFLOW_SYMBOLS_CACHE_DIR=cache_dir)
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "crashflow"), "serve",
         "--source", str(REPO / "functions" / "process" / "main.py"),
         "--target", "process", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=open(Path(cache_dir) / "process.log", "wb"),
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            requests.get(url + "/__lbheartbeat__", timeout=1)
            return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError("process function did not start")


def deliver_directly(url: str, crash_ids: list[str], parallel: int) -> None:
    """Each crash id to the function as a queue message, ``parallel`` in flight."""
    def deliver(crash_id: str) -> None:
        answer = post_event(url + "/", "com.crashflow.crash.queued", "crashflow/queue/standard", crash_id)
        answer.raise_for_status()

    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        list(pool.map(deliver, crash_ids))


def run_relay_until(settings: Settings, url: str, crash_ids: list[str], parallel: int, searchable: Searchable) -> None:
    relay = Relay(settings.model_copy(update={"process_url": url}), workers=parallel)
    pending = set(crash_ids)
    try:
        while pending:
            if not relay.drain_once():
                pending -= searchable(list(pending))
                time.sleep(0.05)
    finally:
        relay.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crashes", type=int, default=200)
    parser.add_argument("--lag-crashes", type=int, default=30)
    parser.add_argument("--relay-crashes", type=int, default=100,
                        help="crashes delivered through the local relay from moto's SQS (phase 3)")
    parser.add_argument("--parallel", type=int, default=os.cpu_count() or 2,
                        help="stackwalkers at a time on the bare side (default: one per core)")
    parser.add_argument("--workers", type=int, default=8,
                        help="deliveries in flight to the function (its gunicorn serves 4 threads per core)")
    parser.add_argument("--namespace", default="cfprocessbench")
    parser.add_argument("--dumps", nargs="+", choices=DUMPS, default=DUMPS, metavar="DUMP",
                        help="the corpus, taken in turn (default: every valid test dump)")
    parser.add_argument("--symbols-mb", type=int, default=0,
                        help="pad test_app.sym (test.dmp's) to this many MB, as production symbol files are "
                             "(use with --dumps test.dmp); default: the test symbols as they are")
    parser.add_argument("--rounds", type=int, default=4,
                        help="bare and function phases alternate this many times, so both see the same machine load")
    args = parser.parse_args()

    settings = Settings(namespace=args.namespace)
    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="crashflow-bench-symbols-"))
    symbols = padded_symbols(workdir, args.symbols_mb) if args.symbols_mb else DATA / "symbols"
    prepare(settings, symbols)
    names = [args.dumps[i % len(args.dumps)] for i in range(args.crashes)]
    rounds = [names[i :: args.rounds] for i in range(args.rounds)]

    storage = CrashStorage(settings)
    table = CrashTable(settings)
    searchable = Searchable(settings)
    queues = CrashQueues(settings)
    with tempfile.TemporaryDirectory(prefix="crashflow-bench-") as cache_dir:
        process, url = start_function(settings, cache_dir)
        try:
            worker = gunicorn_worker(process.pid)
            warmup = [store(settings, storage, name, table) for name in args.dumps]
            for crash_id in warmup:
                queues.publish("standard", crash_id)
            run_relay_until(settings, url, warmup, args.workers, searchable)
            bare_stackwalk(settings, [DATA / "minidumps" / name for name in args.dumps], args.parallel, symbols)  # warm-up

            bare_seconds = bare_cpu = function_seconds = own_cpu = walker_cpu = 0.0
            delivered: list[str] = []
            for round_names in rounds:
                seconds, cpu = bare_stackwalk(
                    settings, [DATA / "minidumps" / name for name in round_names], args.parallel, symbols
                )
                bare_seconds, bare_cpu = bare_seconds + seconds, bare_cpu + cpu

                crash_ids = [store(settings, storage, name, table) for name in round_names]
                start, cpu_before = time.perf_counter(), process_cpu(worker)
                deliver_directly(url, crash_ids, args.workers)
                function_seconds += time.perf_counter() - start
                delivered += crash_ids
                own, walker = (now - then for now, then in zip(process_cpu(worker), cpu_before))
                own_cpu, walker_cpu = own_cpu + own, walker_cpu + walker
            throughput = len(names) / function_seconds
            if len(searchable(delivered)) != len(delivered):
                raise SystemExit("a delivered crash has no report row")

            relay_names = [args.dumps[i % len(args.dumps)] for i in range(args.relay_crashes)]
            relay_ids = [store(settings, storage, name, table) for name in relay_names]
            for crash_id in relay_ids:
                queues.publish("standard", crash_id)
            start = time.perf_counter()
            run_relay_until(settings, url, relay_ids, args.workers, searchable)
            relay_throughput = len(relay_ids) / (time.perf_counter() - start)

            # Lag: crashes arrive one at a time at half the throughput; a relay delivers them.
            lags = []
            interval = 2 / throughput
            relay = Relay(settings.model_copy(update={"process_url": url}), workers=args.workers)
            submitted: dict[str, float] = {}
            lag_names = [args.dumps[i % len(args.dumps)] for i in range(args.lag_crashes)]
            prepared = [store(settings, storage, name, table) for name in lag_names]
            with concurrent.futures.ThreadPoolExecutor(1) as deliverer:
                draining = True

                def drain():
                    while draining:
                        relay.drain_once(wait_seconds=1)

                future = deliverer.submit(drain)
                next_at, waiting, pending = time.perf_counter(), list(prepared), set()
                while waiting or pending:
                    if waiting and time.perf_counter() >= next_at:
                        crash_id = waiting.pop(0)
                        queues.publish("standard", crash_id)
                        submitted[crash_id] = time.perf_counter()
                        pending.add(crash_id)
                        next_at += interval
                    if pending:
                        found = searchable(list(pending))
                        now = time.perf_counter()
                        lags.extend(now - submitted[crash_id] for crash_id in found)
                        pending -= found
                    time.sleep(0.05)
                draining = False
                future.result()
            relay.close()
        finally:
            process.terminate()
            process.wait(10)

    bare = len(names) / bare_seconds
    result = {
        "crashes": len(names),
        "dumps": args.dumps if args.dumps != DUMPS else "all valid test dumps",
        "test_app_sym_padded_to_mb": args.symbols_mb or None,
        "rounds": args.rounds,
        "bare_parallel": args.parallel,
        "function_workers": args.workers,
        "bare_stackwalker_crashes_per_s": round(bare, 2),
        "function_crashes_per_s": round(throughput, 2),
        "throughput_ratio": round(throughput / bare, 3),
        "overhead_percent": round((bare / throughput - 1) * 100, 1),
        "through_local_relay_crashes_per_s": round(relay_throughput, 2),
        "cpu_ratio_bare_to_function": round(bare_cpu / (own_cpu + walker_cpu), 3),
        "bare_cpu_ms_per_crash": round(bare_cpu / len(names) * 1000, 1),
        "function_own_cpu_ms_per_crash": round(own_cpu / len(names) * 1000, 1),
        "function_stackwalker_cpu_ms_per_crash": round(walker_cpu / len(names) * 1000, 1),
        "lag_crashes": len(lags),
        "lag_p50_s": round(percentile(lags, 0.5), 3),
        "lag_p95_s": round(percentile(lags, 0.95), 3),
        "loadavg_1m_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    clean_up(settings)
    shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
