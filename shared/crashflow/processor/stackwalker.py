"""Runs rust-minidump's ``minidump-stackwalk`` on one dump and reads its JSON.

The command line is Socorro's: ``--json``, the raw crash as ``--evil-json`` (so the
stackwalker can read annotations such as module signature info), symbols over HTTP through
an on-disk cache, a kill timeout, and stderr kept for the processor notes. Whatever the
dump holds, ``walk`` returns a result and never raises.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import orjson

STDERR_LIMIT = 4000
# How minidump-stackwalk names the error when it gives up on a dump (exit code 1, no JSON):
# "ERROR MissingThreadList - Error processing dump: ...".
FATAL_ERROR_RE = re.compile(r"ERROR (\w+) - ")


@dataclass
class StackwalkResult:
    json_dump: dict
    status: str
    return_code: int
    stderr: str


class Stackwalker:
    def __init__(self, command: str, symbols_url: str | None, symbols_cache: Path, timeout: int = 120,
                 fresh_symbols_url: str | None = None):
        self.command = command
        self.symbols_url = symbols_url
        # Where symbols are looked up again even if they were missing a moment ago.
        self.fresh_symbols_url = fresh_symbols_url or symbols_url
        self.symbols_cache = Path(symbols_cache)
        # Downloads land here first and are renamed into the cache: same file system.
        self.symbols_tmp = self.symbols_cache.with_name(self.symbols_cache.name + ".tmp")
        self.timeout = timeout

    @functools.cached_property
    def version(self) -> str:
        answer = subprocess.run([self.command, "--version"], capture_output=True, text=True, timeout=30)
        return answer.stdout.strip()

    def command_line(self, dump_path: Path, raw_crash_path: Path | None, symbols_url: str | None) -> list[str]:
        command = [
            self.command,
            "--json",
            f"--symbols-cache={self.symbols_cache}",
            f"--symbols-tmp={self.symbols_tmp}",
            "--no-color",
            "--verbose=error",
        ]
        if raw_crash_path is not None:
            command.append(f"--evil-json={raw_crash_path}")
        if symbols_url:
            command.append(f"--symbols-url={symbols_url}")
        command.append(str(dump_path))
        return command

    def walk(self, dump: bytes, raw_crash: dict | None = None, fresh_symbols: bool = False) -> StackwalkResult:
        """Stack-walk ``dump``; an empty dump is ``EmptyMinidump``, a dump the stackwalker
        cannot read gets its error status (or ``StackwalkerFailed`` when it printed none)."""
        symbols_url = self.fresh_symbols_url if fresh_symbols else self.symbols_url
        if not dump:
            return StackwalkResult({}, "EmptyMinidump", -1, "")
        self.symbols_cache.mkdir(parents=True, exist_ok=True)
        self.symbols_tmp.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="crashflow-mdsw-") as tmp:
            dump_path = Path(tmp) / "dump.dmp"
            dump_path.write_bytes(dump)
            raw_crash_path = None
            if raw_crash is not None:
                raw_crash_path = Path(tmp) / "raw_crash.json"
                raw_crash_path.write_text(json.dumps(raw_crash, default=str))
            try:
                answer = subprocess.run(
                    self.command_line(dump_path, raw_crash_path, symbols_url), capture_output=True,
                    timeout=self.timeout,
                )
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
