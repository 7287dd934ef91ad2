"""Submit-to-searchable throughput of the local stack: the test dump (tests/data/minidumps/
test.dmp) submitted as fast as --clients clients can through the real collect function,
delivered by the relay to process, until every crash has its `reports` row, then checked
through SuperSearch. It runs a `make up` stack of its own (chaos.py's), `make down` after.

With --moto-port, the stack's functions use a moto server on that port for S3 and SQS (as
`make up` did before SeaweedFS and ElasticMQ), for the before/after figure.

Prints JSON: crashes, accepted per second (collect), searchable per second (first submit
to last report row), and the machine's load average.

    .venv/bin/python tests/bench/pipeline.py --crashes 500
    .venv/bin/python tests/bench/pipeline.py --crashes 500 --moto-port 5600
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import chaos  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DUMP = (REPO / "tests" / "data" / "minidumps" / "test.dmp").read_bytes()


def submit_all(url: str, product: str, count: int, clients: int) -> list[str]:
    def one(index: int) -> str:
        answer = requests.post(url + "/submit", data={"ProductName": product, "Version": f"1.{index % 10}"},
                               files={"upload_file_minidump": ("test.dmp", DUMP)}, timeout=120)
        answer.raise_for_status()
        return answer.text.strip().removeprefix("CrashID=bp-")

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, range(count)))


def report_rows(stack: chaos.Stack, product: str) -> int:
    from crashflow.stores.postgres import connect

    connection = connect(stack.settings)
    try:
        return connection.run("SELECT count(*) FROM reports WHERE product = :p", p=product)[0][0]
    finally:
        connection.close()


def wait_rows(stack: chaos.Stack, product: str, count: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if report_rows(stack, product) >= count:
            return time.monotonic()
        time.sleep(0.2)
    raise SystemExit(f"{product}: {report_rows(stack, product)} of {count} processed in {timeout} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crashes", type=int, default=500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--moto-port", type=int, help="S3 and SQS on a moto server on this port (the old stack)")
    parser.add_argument("--relay-workers", type=int, help="the relay's deliveries at once (default: the stack's)")
    args = parser.parse_args()

    state = Path(tempfile.mkdtemp(prefix="crashflow-pipeline-", dir="/var/tmp"))
    state.chmod(0o755)
    stack = chaos.Stack(state)
    if args.relay_workers:
        stack.env["CRASHFLOW_RELAY_WORKERS"] = str(args.relay_workers)
    if args.moto_port:
        endpoint = f"http://127.0.0.1:{args.moto_port}"
        stack.env.update(CRASHFLOW_AWS_ENDPOINT_URL=endpoint, CRASHFLOW_MOTO_PORT=str(args.moto_port))
        stack.settings = stack.settings.model_copy(update={"aws_endpoint_url": endpoint})
    report: dict = {"crashes": args.crashes, "clients": args.clients,
                    "relay_workers": args.relay_workers or "the stack default",
                    "s3_sqs": "moto" if args.moto_port else "SeaweedFS + ElasticMQ"}
    try:
        if args.moto_port:
            subprocess.run([str(REPO / "infra" / "local" / "moto.sh"), "start"], env=stack.env, check=True)
        stack.make("up")
        submit_all(stack.collect_url, "PipelineWarmup", 20, 4)
        wait_rows(stack, "PipelineWarmup", 20, 300)

        load_before = os.getloadavg()
        started = time.monotonic()
        crash_ids = submit_all(stack.collect_url, "Pipeline", args.crashes, args.clients)
        submitted = time.monotonic()
        done = wait_rows(stack, "Pipeline", args.crashes, 1800)
        search = requests.get(f"{stack.query_url}/api/SuperSearch/", timeout=60,
                              params={"product": "Pipeline", "_results_number": 0}).json()
        report.update({
            "accepted_per_s": round(len(crash_ids) / (submitted - started), 1),
            "searchable_per_s": round(args.crashes / (done - started), 1),
            "seconds": round(done - started, 1),
            "supersearch_total": search["total"],
            "load_average_before": [round(value, 1) for value in load_before],
            "load_average_after": [round(value, 1) for value in os.getloadavg()],
        })
    finally:
        stack.make("down", tries=2)
        if args.moto_port:
            subprocess.run([str(REPO / "infra" / "local" / "moto.sh"), "stop"], env=stack.env)
        shutil.rmtree(state, ignore_errors=True)
    print(json.dumps(report, indent=2))
    return 0 if report.get("supersearch_total") == args.crashes else 1


if __name__ == "__main__":
    sys.exit(main())
