"""The stackwalker runner: its command line, what it does when the stackwalker misbehaves,
and fetching missing symbols then walking again (the real binary on real dumps is in
tests/integration/test_process_dumps.py)."""

import json
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from crashflow.processor.pipeline import CrashContext, Pipeline
from crashflow.processor.rules import StackwalkRule
from crashflow.processor.stackwalker import MAX_WALKS, Stackwalker
from crashflow.processor.symbols import MissingSymbols, SymbolFetcher, SymbolsUnavailable
from test_symbol_cache import FakeBucket


def fake(tmp_path, body: str) -> str:
    """A stand-in stackwalker: a Python script with ``body``."""
    script = tmp_path / "fake-stackwalk"
    script.write_text(f"#!{sys.executable}\nimport sys, json, os, time\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_empty_dump_is_not_walked(tmp_path):
    walker = Stackwalker(fake(tmp_path, "raise SystemExit(99)"), tmp_path / "cache")
    result = walker.walk(b"")
    assert (result.status, result.json_dump) == ("EmptyMinidump", {})


def test_the_command_line_and_the_raw_crash(tmp_path):
    body = (
        "args = sys.argv[1:]\n"
        "evil = [a for a in args if a.startswith('--evil-json=')][0].split('=', 1)[1]\n"
        "print(json.dumps({'status': 'OK', 'args': args, 'evil': json.load(open(evil))}))"
    )
    walker = Stackwalker(fake(tmp_path, body), tmp_path / "cache")
    result = walker.walk(b"MDMP", {"ProductName": "App"})
    assert result.status == "OK" and result.return_code == 0
    assert result.json_dump["evil"] == {"ProductName": "App"}
    args = result.json_dump["args"]
    assert args[:3] == ["--json", "--no-color", "--verbose=error"]
    assert args[-2] == f"--symbols-path={tmp_path / 'cache'}" and args[-1].endswith("dump.dmp")
    assert not [arg for arg in args if arg.startswith(("--symbols-url", "--symbols-cache", "--symbols-tmp"))]
    assert (tmp_path / "cache").is_dir()


def test_a_stackwalker_error_status_is_kept(tmp_path):
    walker = Stackwalker(
        fake(tmp_path, "print(json.dumps({'status': 'ERROR_MINIDUMP_HEADER_MISMATCH'}))"), tmp_path / "c"
    )
    assert walker.walk(b"junk").status == "ERROR_MINIDUMP_HEADER_MISMATCH"


def test_a_fatal_error_gets_the_status_from_stderr(tmp_path):
    body = "sys.stderr.write('ERROR MissingThreadList - Error processing dump: no threads\\n'); sys.exit(1)"
    result = Stackwalker(fake(tmp_path, body), tmp_path / "c").walk(b"junk")
    assert (result.status, result.return_code) == ("MissingThreadList", 1)
    assert "no threads" in result.stderr


def test_garbage_output_is_a_failure_not_an_exception(tmp_path):
    result = Stackwalker(fake(tmp_path, "print('not json'); sys.exit(3)"), tmp_path / "c").walk(b"junk")
    assert (result.status, result.return_code, result.json_dump) == ("StackwalkerFailed", 3, {})


def test_a_hanging_stackwalker_is_killed(tmp_path):
    body = "sys.stderr.write('thinking\\n'); sys.stderr.flush(); time.sleep(30)"
    result = Stackwalker(fake(tmp_path, body), tmp_path / "c", timeout=1).walk(b"junk")
    assert result.status == "StackwalkerTimeout"


APP = {"debug_file": "c:\\build\\app.pdb", "debug_id": "AAA1", "key": "app.pdb/AAA1/app.sym"}
LIBC = {"debug_file": "/lib/libc.so.6", "debug_id": "BBB1", "key": "libc.so.6/BBB1/libc.so.6.sym"}
# Reached only once app's symbols are there (its unwind info leads the walk on).
LIBZ = {"debug_file": "libz.so", "debug_id": "CCC1", "key": "libz.so/CCC1/libz.so.sym", "after": APP["key"]}
EVIL = {"debug_file": "..", "debug_id": "DDD1", "key": "../DDD1/...sym"}

SYMBOL_WALKER = """
path = [a.split('=', 1)[1] for a in sys.argv[1:] if a.startswith('--symbols-path=')][0]
with open(os.path.join(path, '..', 'walks'), 'a') as log:
    log.write('walk\\n')
have = {{m['key']: os.path.isfile(os.path.join(path, m['key'])) for m in {modules}}}
modules = []
for m in {modules}:
    reached = m.get('after') is None or have[m['after']]
    modules.append({{'debug_file': m['debug_file'], 'debug_id': m['debug_id'],
                    'loaded_symbols': have[m['key']], 'missing_symbols': reached and not have[m['key']]}})
print(json.dumps({{'status': 'OK', 'modules': modules}}))
"""


def symbol_walker(tmp_path, modules, files=None, failing=()):
    """A stackwalker that reports the modules whose symbols are not in its symbols path as
    missing, over a fake bucket with ``files``; the walks are counted in tmp_path/walks."""
    bucket = FakeBucket(files, failing)
    cache = tmp_path / "cache"
    fetcher = SymbolFetcher(cache, bucket, MissingSymbols(600))
    walker = Stackwalker(fake(tmp_path, SYMBOL_WALKER.format(modules=modules)), cache, fetcher=fetcher)
    return walker, bucket


def walks(tmp_path) -> int:
    path = tmp_path / "walks"
    return len(path.read_text().splitlines()) if path.exists() else 0


def loaded(result) -> dict[str, bool]:
    return {module["debug_file"]: module["loaded_symbols"] for module in result.json_dump["modules"]}


def test_missing_symbols_are_fetched_and_the_dump_walked_again(tmp_path):
    walker, bucket = symbol_walker(tmp_path, [APP, LIBC, EVIL], {APP["key"]: b"MODULE app"})
    result = walker.walk(b"MDMP")
    assert walks(tmp_path) == 2
    assert loaded(result) == {APP["debug_file"]: True, LIBC["debug_file"]: False, "..": False}
    assert (tmp_path / "cache" / APP["key"]).read_bytes() == b"MODULE app"
    assert sorted(bucket.asked) == sorted([APP["key"], LIBC["key"]])  # never the unsafe name

    # Next crash: app's symbols are local, libc's known missing: one walk, no bucket request.
    walker.walk(b"MDMP")
    assert walks(tmp_path) == 3
    assert len(bucket.asked) == 2


def test_nothing_found_means_one_walk(tmp_path):
    walker, bucket = symbol_walker(tmp_path, [APP, LIBC])
    result = walker.walk(b"MDMP")
    assert walks(tmp_path) == 1 and not any(loaded(result).values())
    assert sorted(bucket.asked) == sorted([APP["key"], LIBC["key"]])


def test_fresh_symbols_ask_the_bucket_again_for_known_misses(tmp_path):
    walker, bucket = symbol_walker(tmp_path, [APP])
    walker.walk(b"MDMP")
    bucket.files[APP["key"]] = b"MODULE app"  # uploaded after the first crash
    assert loaded(walker.walk(b"MDMP")) == {APP["debug_file"]: False}  # still known missing
    assert loaded(walker.walk(b"MDMP", fresh_symbols=True)) == {APP["debug_file"]: True}
    assert bucket.asked == [APP["key"], APP["key"]]
    assert walks(tmp_path) == 1 + 1 + 2


def test_symbols_that_lead_to_other_modules_walk_again_bounded(tmp_path):
    walker, bucket = symbol_walker(tmp_path, [APP, LIBZ], {APP["key"]: b"MODULE app", LIBZ["key"]: b"MODULE z"})
    result = walker.walk(b"MDMP")
    assert loaded(result) == {APP["debug_file"]: True, "libz.so": True}
    assert bucket.asked == [APP["key"], LIBZ["key"]]
    assert walks(tmp_path) == MAX_WALKS == 3


def test_a_bucket_failure_fails_the_crash_not_just_the_rule(tmp_path):
    walker, _ = symbol_walker(tmp_path, [APP, LIBC], {APP["key"]: b"MODULE app"}, failing=[LIBC["key"]])
    crash = CrashContext("de1bb258-cbbf-4589-a673-34f800160918", {}, {"upload_file_minidump": b"MDMP"})
    with pytest.raises(SymbolsUnavailable, match="HTTP 503"):
        Pipeline([StackwalkRule(walker)]).run(crash)
    assert "json_dump" not in crash.processed and crash.notes == []


def test_no_more_stackwalkers_at_once_than_allowed(tmp_path):
    # Each fake walk records when it ran; with two slots, no three of the five overlap.
    log = tmp_path / "runs"
    body = (
        f"start = time.monotonic(); time.sleep(0.3)\n"
        f"open({str(log)!r}, 'a').write(f'{{start}} {{time.monotonic()}}\\n')\n"
        "print(json.dumps({'status': 'OK'}))"
    )
    walker = Stackwalker(fake(tmp_path, body), tmp_path / "cache", concurrency=2)
    with ThreadPoolExecutor(5) as pool:
        assert all(r.status == "OK" for r in pool.map(lambda _: walker.walk(b"MDMP"), range(5)))
    runs = [tuple(map(float, line.split())) for line in log.read_text().splitlines()]
    busiest = max(sum(start <= moment < end for start, end in runs) for moment, _ in runs)
    assert len(runs) == 5 and busiest == 2
