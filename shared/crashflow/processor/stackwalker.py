"""Runs rust-minidump's ``minidump-stackwalk`` on one dump and reads its JSON."""

from __future__ import annotations

import functools
import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass
class StackwalkResult:
    json_dump: dict
    status: str
    return_code: int
    stderr: str


class Stackwalker:
    def __init__(self, command: str, symbols_url: str | None, symbols_cache: Path, timeout: int = 120):
        self.command = command
        self.symbols_url = symbols_url
        self.symbols_cache = Path(symbols_cache)
        self.timeout = timeout

    @functools.cached_property
    def version(self) -> str:
        answer = subprocess.run([self.command, "--version"], capture_output=True, text=True, timeout=30)
        return answer.stdout.strip()

    def walk(self, dump: bytes) -> StackwalkResult:
        if not dump:
            return StackwalkResult({}, "EmptyMinidump", -1, "")
        self.symbols_cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="crashflow-mdsw-") as tmp:
            tmpdir = Path(tmp)
            dump_path = tmpdir / "dump.dmp"
            dump_path.write_bytes(dump)
            output = tmpdir / "out.json"
            command = [
                self.command,
                "--json",
                f"--output-file={output}",
                f"--symbols-cache={self.symbols_cache}",
                f"--symbols-tmp={tmpdir}",
                "--no-color",
                "--verbose=error",
            ]
            if self.symbols_url:
                command.append(f"--symbols-url={self.symbols_url}")
            command.append(str(dump_path))
            try:
                answer = subprocess.run(command, capture_output=True, timeout=self.timeout)
            except subprocess.TimeoutExpired as error:
                stderr = (error.stderr or b"").decode(errors="replace")
                return StackwalkResult({}, "StackwalkerTimeout", -9, stderr[-4000:])
            stderr = answer.stderr.decode(errors="replace")[-4000:]
            try:
                json_dump = json.loads(output.read_text())
            except (OSError, ValueError):
                return StackwalkResult({}, "StackwalkerFailed", answer.returncode, stderr)
        return StackwalkResult(json_dump, json_dump.get("status", "OK"), answer.returncode, stderr)
