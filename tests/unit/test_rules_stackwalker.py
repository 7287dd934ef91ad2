"""The stackwalker runner: what it does when the stackwalker misbehaves (the real binary
on real dumps is in tests/integration/test_process_dumps.py)."""

import json
import sys

from crashflow.processor.stackwalker import Stackwalker


def fake(tmp_path, body: str) -> str:
    """A stand-in stackwalker: a Python script with ``body``."""
    script = tmp_path / "fake-stackwalk"
    script.write_text(f"#!{sys.executable}\nimport sys, json, time\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_empty_dump_is_not_walked(tmp_path):
    walker = Stackwalker(fake(tmp_path, "raise SystemExit(99)"), None, tmp_path / "cache")
    result = walker.walk(b"")
    assert (result.status, result.json_dump) == ("EmptyMinidump", {})


def test_the_command_line_and_the_raw_crash(tmp_path):
    body = (
        "args = sys.argv[1:]\n"
        "evil = [a for a in args if a.startswith('--evil-json=')][0].split('=', 1)[1]\n"
        "print(json.dumps({'status': 'OK', 'args': args, 'evil': json.load(open(evil))}))"
    )
    walker = Stackwalker(fake(tmp_path, body), "http://symbols/", tmp_path / "cache", fresh_symbols_url="http://fresh/")
    result = walker.walk(b"MDMP", {"ProductName": "App"})
    assert result.status == "OK" and result.return_code == 0
    assert result.json_dump["evil"] == {"ProductName": "App"}
    args = result.json_dump["args"]
    assert "--json" in args and "--symbols-url=http://symbols/" in args
    assert f"--symbols-cache={tmp_path / 'cache'}" in args
    assert "--symbols-url=http://fresh/" in walker.walk(b"MDMP", {}, fresh_symbols=True).json_dump["args"]


def test_a_stackwalker_error_status_is_kept(tmp_path):
    walker = Stackwalker(
        fake(tmp_path, "print(json.dumps({'status': 'ERROR_MINIDUMP_HEADER_MISMATCH'}))"), None, tmp_path / "c"
    )
    assert walker.walk(b"junk").status == "ERROR_MINIDUMP_HEADER_MISMATCH"


def test_a_fatal_error_gets_the_status_from_stderr(tmp_path):
    body = "sys.stderr.write('ERROR MissingThreadList - Error processing dump: no threads\\n'); sys.exit(1)"
    result = Stackwalker(fake(tmp_path, body), None, tmp_path / "c").walk(b"junk")
    assert (result.status, result.return_code) == ("MissingThreadList", 1)
    assert "no threads" in result.stderr


def test_garbage_output_is_a_failure_not_an_exception(tmp_path):
    result = Stackwalker(fake(tmp_path, "print('not json'); sys.exit(3)"), None, tmp_path / "c").walk(b"junk")
    assert (result.status, result.return_code, result.json_dump) == ("StackwalkerFailed", 3, {})


def test_a_hanging_stackwalker_is_killed(tmp_path):
    body = "sys.stderr.write('thinking\\n'); sys.stderr.flush(); time.sleep(30)"
    result = Stackwalker(fake(tmp_path, body), None, tmp_path / "c", timeout=1).walk(b"junk")
    assert result.status == "StackwalkerTimeout"
