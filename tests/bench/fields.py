"""What the allow-list costs a ProcessedCrash / RawCrash answer: the time of
``DocumentFields.public_view`` (every field checked against the field definitions) on

- each stackwalker output in /work/shared/testdata/stackwalk-expected (rust-minidump's own
  test expectations) as the ``json_dump`` of a processed crash with crashflow's usual
  top-level fields;
- a large synthetic crash: ``--threads`` threads of ``--frames`` frames each;
- a raw crash of 40 annotations, half of them an app's own.

No services needed. Prints JSON: per document its JSON size, fields withheld, and the
median and p99 of ``--runs`` timed runs in milliseconds.

    .venv/bin/python tests/bench/fields.py [--runs 200 --threads 64 --frames 100]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from pathlib import Path

from crashflow.fields import default_definitions

SNAPSHOTS = Path("/work/shared/testdata/stackwalk-expected")
TOP_LEVEL = {
    "uuid": "b88a69cc-9828-48b7-9f49-5ccda0261130", "signature": "test_app.exe", "product": "App",
    "version": "3.1", "build": "20261130", "release_channel": "release", "os_name": "Windows NT",
    "date_processed": "2026-11-30T15:45:18+00:00", "processor_notes": "", "url": "https://bank.example",
    "user_comments": "it crashed", "mdsw_stderr": "warnings", "modules_in_stack": "a/1;b/2",
    "addons": [], "processor_history": ["2026-11-30T15:40:00+00:00 default: x"],
}


def snapshot(path: Path) -> dict:
    text = path.read_text()
    return json.loads(text[text.index("{"):text.rindex("}") + 1])


def large_dump(threads: int, frames: int) -> dict:
    frame = {"file": "c:\\src\\app.cc", "frame": 0, "function": "App::Run()", "function_offset": "0x10",
             "line": 42, "missing_symbols": False, "module": "app.exe", "module_offset": "0x1234",
             "offset": "0x401234", "trust": "cfi", "registers": {"rip": "0x401234", "rsp": "0x7ff0"}}
    thread = {"frame_count": frames, "frames": [dict(frame, frame=n) for n in range(frames)],
              "last_error_value": None, "thread_id": 1, "thread_name": None}
    return {"crash_info": {"type": "SIGSEGV", "address": "0x0", "crashing_thread": 0},
            "crashing_thread": copy.deepcopy(thread), "threads": [copy.deepcopy(thread) for _ in range(threads)],
            "modules": [{"filename": f"m{n}.dll", "debug_id": "X", "debug_file": f"m{n}.pdb"} for n in range(200)],
            "system_info": {"os": "Windows NT", "cpu_arch": "amd64"}, "thread_count": threads}


def measure(document_fields, document: dict, runs: int) -> dict:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        view = document_fields.public_view(document)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {
        "json_bytes": len(json.dumps(document)),
        "withheld": view.withheld.count,
        "median_ms": round(statistics.median(times), 3),
        "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--frames", type=int, default=100)
    args = parser.parse_args()
    definitions = default_definitions()
    results = {}
    for path in sorted(SNAPSHOTS.glob("*json*.snap")):
        results[path.stem] = measure(definitions.processed_crash, {**TOP_LEVEL, "json_dump": snapshot(path)}, args.runs)
    results[f"synthetic {args.threads} threads x {args.frames} frames"] = measure(
        definitions.processed_crash, {**TOP_LEVEL, "json_dump": large_dump(args.threads, args.frames)}, args.runs)
    raw = {f"Annotation{n}": f"value {n}" for n in range(20)}
    raw.update({name: "x" for name in ("ProductName", "Version", "BuildID", "ReleaseChannel", "CrashTime",
                                       "StartupTime", "InstallTime", "URL", "Comments", "Vendor", "Hang",
                                       "AbortMessage", "Notes", "ProcessType", "SecondsSinceLastCrash",
                                       "TotalPhysicalMemory", "AvailablePhysicalMemory", "Add-ons",
                                       "OOMAllocationSize", "MozCrashReason")})
    raw["metadata"] = {"user_agent": "x", "collector_notes": []}
    results["raw crash, 41 annotations"] = measure(definitions.raw_crash, raw, args.runs)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
