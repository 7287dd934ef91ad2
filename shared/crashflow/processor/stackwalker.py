"""Runs rust-minidump's ``minidump-stackwalk`` on one dump and reads its JSON.

The command line is Socorro's: ``--json``, the raw crash as ``--evil-json`` (so the
stackwalker can read annotations such as module signature info), a kill timeout, and
stderr kept for the processor notes; symbols are read from the local cache directory only.
When the walk names modules without symbols, the ``SymbolFetcher`` fetches what the bucket
has of them and the dump is walked again. Whatever the dump holds, ``walk`` returns a
result; it raises only when fetching symbols failed (``SymbolsUnavailable``).
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import orjson

from crashflow.metrics import PROCESS_STACKWALKER_SECONDS, PROCESS_SYMBOL_CACHE
from crashflow.processor.symbols import SymbolFetcher, missing_symbol_keys

STDERR_LIMIT = 4000
# How minidump-stackwalk names the error when it gives up on a dump (exit code 1, no JSON):
# "ERROR MissingThreadList - Error processing dump: ...".
FATAL_ERROR_RE = re.compile(r"ERROR (\w+) - ")
# At most this many walks of one dump: the first, and one after each fetch that found files.
MAX_WALKS = 3


@dataclass
class StackwalkResult:
    json_dump: dict
    status: str
    return_code: int
    stderr: str


def count_symbol_cache(json_dump: dict) -> None:
    """Modules of a first walk whose symbols the local cache had (hit), and those it lacked
    (miss: fetched, or known absent)."""
    hits = misses = 0
    for module in json_dump.get("modules") or []:
        if isinstance(module, dict):
            hits += module.get("loaded_symbols") is True
            misses += module.get("missing_symbols") is True
    if hits:
        PROCESS_SYMBOL_CACHE.labels("hit").inc(hits)
    if misses:
        PROCESS_SYMBOL_CACHE.labels("miss").inc(misses)


class Stackwalker:
    def __init__(self, command: str, symbols_path: Path, timeout: int = 120,
                 fetcher: SymbolFetcher | None = None, concurrency: int | None = None):
        self.command = command
        self.symbols_path = Path(symbols_path)
        self.timeout = timeout
        # The stackwalker is CPU-bound: more of them than cores only makes each slower
        # (measured with 20 MB of symbols on 2 cores: 399 ms of CPU per walk with 8 at once,
        # 321 ms with 2). Crashes delivered meanwhile do their store reads and writes while
        # they wait.
        self._slots = threading.BoundedSemaphore(concurrency or len(os.sched_getaffinity(0)))
        # None: walk with the symbols the directory has, fetch nothing.
        self.fetcher = fetcher

    @functools.cached_property
    def version(self) -> str:
        answer = subprocess.run([self.command, "--version"], capture_output=True, text=True, timeout=30)
        return answer.stdout.strip()

    def command_line(self, dump_path: Path, raw_crash_path: Path | None) -> list[str]:
        command = [self.command, "--json", "--no-color", "--verbose=error"]
        if raw_crash_path is not None:
            command.append(f"--evil-json={raw_crash_path}")
        command += [f"--symbols-path={self.symbols_path}", str(dump_path)]
        return command

    def walk(self, dump: bytes, raw_crash: dict | None = None, fresh_symbols: bool = False) -> StackwalkResult:
        """Stack-walk ``dump``; an empty dump is ``EmptyMinidump``, a dump the stackwalker
        cannot read gets its error status (or ``StackwalkerFailed`` when it printed none).
        ``fresh_symbols``: ask the bucket even for symbols it lacked lately."""
        if not dump:
            return StackwalkResult({}, "EmptyMinidump", -1, "")
        self.symbols_path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="crashflow-mdsw-") as tmp:
            dump_path = Path(tmp) / "dump.dmp"
            dump_path.write_bytes(dump)
            raw_crash_path = None
            if raw_crash is not None:
                raw_crash_path = Path(tmp) / "raw_crash.json"
                raw_crash_path.write_text(json.dumps(raw_crash, default=str))
            command = self.command_line(dump_path, raw_crash_path)
            if self.fetcher is not None:
                self.fetcher.catch_up()  # symbols uploaded moments ago count for this walk
            result = self._run(command)
            if self.fetcher is not None:
                count_symbol_cache(result.json_dump)
                result = self._fetch_and_walk_again(command, result, fresh_symbols)
        return result

    def _fetch_and_walk_again(self, command: list[str], result: StackwalkResult, fresh: bool) -> StackwalkResult:
        """Fetch the symbols ``result`` lacked and walk again, as long as a fetch found any.

        More than once because symbols found for one module (its unwind info) can lead the
        unwinder into modules it had not reached, whose symbols are then missing in turn.
        Each key is asked for once per dump."""
        asked: set[str] = set()
        for _ in range(MAX_WALKS - 1):
            keys = [key for key in missing_symbol_keys(result.json_dump) if key not in asked]
            asked.update(keys)
            if not self.fetcher.fetch(keys, fresh=fresh):
                break
            result = self._run(command)
        return result

    def _run(self, command: list[str]) -> StackwalkResult:
        try:
            with self._slots, PROCESS_STACKWALKER_SECONDS.time():
                answer = subprocess.run(command, capture_output=True, timeout=self.timeout)
        except subprocess.TimeoutExpired as error:  # subprocess.run killed it
            stderr = (error.stderr or b"").decode(errors="replace")
            return StackwalkResult({}, "StackwalkerTimeout", -9, stderr[-STDERR_LIMIT:])
        stderr = answer.stderr.decode(errors="replace")[-STDERR_LIMIT:]
        try:
            json_dump = orjson.loads(answer.stdout)
        except orjson.JSONDecodeError:
            try:  # what orjson refuses (integers over 64 bits, NaN) but may still be JSON
                json_dump = json.loads(answer.stdout)
            except ValueError:
                json_dump = None
        if not isinstance(json_dump, dict):
            fatal = FATAL_ERROR_RE.search(stderr)
            return StackwalkResult({}, fatal.group(1) if fatal else "StackwalkerFailed", answer.returncode, stderr)
        return StackwalkResult(json_dump, json_dump.get("status") or "OK", answer.returncode, stderr)
