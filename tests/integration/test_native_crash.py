"""A real native crash, end to end: a C program built with -g crashes (SIGSEGV) in a named
function; Mozilla's dump_syms makes its symbols, which go up through Breakpad's
sym-upload-v2 protocol; minidump-writer (tests/native/crashdump) writes a minidump of the
crash, which goes up as Crashpad sends it (gzip, chunked, ?product=&version=&guid=); the
processed crash must name the function, its file and its line.

The tools are built once into ~/.cache/crashflow by infra/local/native-tools.sh (which
`make test` runs first)."""

from __future__ import annotations

import platform
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

import wire_clients
from conftest import REPO
from crashflow.stores.postgres import Database
from crashflow.stores.s3 import SymbolStorage
from crashflow.tokens import TokenStore
from test_end_to_end import relay_until_processed

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(platform.machine() != "x86_64", reason="tests/native/crashdump reads x86-64 registers"),
]

SOURCE = REPO / "tests" / "native" / "crashme.c"
MARKER = "crashflow-test: crashing line"


@pytest.fixture(scope="module")
def native_tools() -> dict[str, Path]:
    answer = subprocess.run([str(REPO / "infra" / "local" / "native-tools.sh"), "install"],
                            capture_output=True, text=True, timeout=3600)
    assert answer.returncode == 0, answer.stderr
    return {name: Path(path) for name, path in (line.split(" ", 1) for line in answer.stdout.splitlines())}


@pytest.fixture(scope="module")
def crashme(tmp_path_factory) -> Path:
    program = tmp_path_factory.mktemp("native") / "crashme"
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler, "a C compiler is needed"
    subprocess.run([compiler, "-g", "-O0", "-o", str(program), str(SOURCE)], check=True, timeout=120)
    return program


def test_a_native_crash_is_named_with_function_file_and_line(stack, functions, functions_symbols_cache,
                                                               native_tools, crashme, tmp_path):
    # The symbols, as a build would make them.
    sym = tmp_path / "crashme.sym"
    sym.write_bytes(subprocess.run([str(native_tools["dump_syms"]), str(crashme)], capture_output=True,
                                   check=True, timeout=120).stdout)
    _, os_name, arch, debug_id, debug_file = wire_clients.module_line(sym)
    assert (os_name, arch, debug_file) == ("Linux", "x86_64", "crashme")
    key = f"{debug_file}/{debug_id}/{debug_file}.sym"
    symbols = SymbolStorage(stack)
    symbols.delete(key)  # an earlier run's upload: this one must go all the way
    shutil.rmtree(functions_symbols_cache / stack.symbols_bucket / debug_file, ignore_errors=True)

    token = TokenStore(Database(stack)).create(["upload_symbols"], note="native crash test")
    outcome = wire_clients.sym_upload_v2(f"{functions['collect'].url}/symbols", token, sym)
    assert outcome.success and outcome.message == "Successfully sent the symbol file.", outcome
    assert symbols.exists(key)

    # The crash, written by minidump-writer as an out-of-process handler does.
    dump = tmp_path / "crash.dmp"
    run = subprocess.run([str(native_tools["crashdump"]), str(dump), str(crashme)], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "minidump of signal 11" in run.stdout

    reply = wire_clients.crashpad_upload(
        f"{functions['collect'].url}/submit",
        {"prod": "NativeCrash", "ver": "1.0.3", "guid": str(uuid.uuid4())},
        dump.read_bytes(), str(uuid.uuid4()),
    )
    assert reply.curl_ok and reply.status == 200 and reply.body.startswith("CrashID=bp-"), reply
    crash_id = reply.body.strip().removeprefix("CrashID=bp-")

    processed = relay_until_processed(stack, functions, functions["query"].url, crash_id)
    line = next(number for number, text in enumerate(SOURCE.read_text().splitlines(), 1) if MARKER in text)
    frame = processed["json_dump"]["crashing_thread"]["frames"][0]
    assert (frame["module"], frame["function"], Path(frame["file"]).name, frame["line"]) == \
        ("crashme", "credit_account", "crashme.c", line)
    callers = [f.get("function") for f in processed["json_dump"]["crashing_thread"]["frames"][1:3]]
    assert callers == ["settle_payments", "main"]
    assert processed["signature"] == "credit_account"
    assert processed["reason"].startswith("SIGSEGV")
    assert (processed["product"], processed["version"], processed["os_name"]) == ("NativeCrash", "1.0.3", "Linux")
    assert processed["mdsw_status_string"] == "OK"
