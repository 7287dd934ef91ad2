"""The symbol cache: key derivation from the stackwalker's modules, fetching into the
cache from a stand-in symbols bucket, remembering misses, pruning."""

import os

import pytest

from crashflow.processor.symbols import (
    MissingSymbols,
    SymbolCache,
    SymbolFetcher,
    SymbolsUnavailable,
    missing_symbol_keys,
    prune_cache,
)
from crashflow.stores.awshttp import AwsRequestFailed
from crashflow.stores.layout import symbol_key

PDB_KEY = "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym"


class FakeBucket:
    """Stands in for the symbols bucket: ``files`` by key; ``failing`` keys raise."""

    def __init__(self, files=None, failing=()):
        self.files = dict(files or {})
        self.failing = set(failing)
        self.asked = []

    def get(self, key):
        self.asked.append(key)
        if key in self.failing:
            raise AwsRequestFailed("s3", f"GET {key}: HTTP 503", 503)
        return self.files.get(key)


def fetcher(tmp_path, bucket, ttl=600):
    return SymbolFetcher(tmp_path / "cache", bucket, MissingSymbols(ttl))


@pytest.mark.parametrize("debug_file, debug_id, key", [
    ("test_app.pdb", "5A9832E5287241C1838ED98914E9B7FF1", PDB_KEY),
    ("TEST_APP.PDB", "ABC1", "TEST_APP.PDB/ABC1/TEST_APP.sym"),
    ("libc-2.13.so", "F7E52D21", "libc-2.13.so/F7E52D21/libc-2.13.so.sym"),
    (r"c:\builds\app\xul.pdb", "ABC1", "xul.pdb/ABC1/xul.sym"),
    ("/usr/lib/libxul.so", "ABC1", "libxul.so/ABC1/libxul.so.sym"),
    ("crash-client", "509C0610949836F7B70BD88BCF03E5400", "crash-client/509C0610949836F7B70BD88BCF03E5400/crash-client.sym"),
])
def test_symbol_key_follows_the_breakpad_layout(debug_file, debug_id, key):
    assert symbol_key(debug_file, debug_id) == key


@pytest.mark.parametrize("debug_file, debug_id", [
    ("..", "ABC1"),
    ("c:\\app\\..", "ABC1"),
    ("app/", "ABC1"),
    ("", "ABC1"),
    ("a\0b.so", "ABC1"),
    ("a\nb.so", "ABC1"),
    ("x" * 201, "ABC1"),
    ("app.pdb", "../../etc"),
    ("app.pdb", "ABC-1"),
    ("app.pdb", ""),
    ("app.pdb", "A" * 65),
    (None, "ABC1"),
    ("app.pdb", None),
])
def test_unsafe_names_make_no_key(debug_file, debug_id):
    assert symbol_key(debug_file, debug_id) is None


def test_missing_symbol_keys_are_the_missing_safe_modules_once():
    dump = {"modules": [
        {"debug_file": "app.pdb", "debug_id": "A1", "missing_symbols": True},
        {"debug_file": "found.so", "debug_id": "B1", "missing_symbols": False, "loaded_symbols": True},
        {"debug_file": "..", "debug_id": "C1", "missing_symbols": True},
        {"debug_file": "app.pdb", "debug_id": "A1", "missing_symbols": True},
        {"debug_file": "libz.so", "debug_id": "D1", "missing_symbols": True},
        {"debug_file": "nameless.so", "missing_symbols": True},
        "not a module",
    ]}
    assert missing_symbol_keys(dump) == ["app.pdb/A1/app.sym", "libz.so/D1/libz.so.sym"]
    assert missing_symbol_keys({}) == [] and missing_symbol_keys({"modules": None}) == []


def test_fetch_writes_found_files_and_remembers_misses(tmp_path):
    bucket = FakeBucket({PDB_KEY: b"MODULE windows x86 5A98 test_app.pdb\n"})
    fetch = fetcher(tmp_path, bucket)
    assert fetch.fetch([PDB_KEY, "gone.so/B1/gone.so.sym"]) == 1
    assert (tmp_path / "cache" / PDB_KEY).read_bytes() == b"MODULE windows x86 5A98 test_app.pdb\n"
    assert [path.name for path in (tmp_path / "cache" / PDB_KEY).parent.iterdir()] == ["test_app.sym"]
    assert "gone.so/B1/gone.so.sym" in fetch.missing and PDB_KEY not in fetch.missing
    assert sorted(bucket.asked) == sorted([PDB_KEY, "gone.so/B1/gone.so.sym"])


def test_known_misses_are_asked_for_again_only_when_fresh(tmp_path):
    bucket = FakeBucket()
    fetch = fetcher(tmp_path, bucket)
    assert fetch.fetch([PDB_KEY]) == 0
    assert fetch.fetch([PDB_KEY]) == 0
    assert bucket.asked == [PDB_KEY]
    bucket.files[PDB_KEY] = b"MODULE"  # uploaded meanwhile: only a fresh fetch sees it
    assert fetch.fetch([PDB_KEY], fresh=True) == 1
    assert bucket.asked == [PDB_KEY, PDB_KEY]
    assert PDB_KEY not in fetch.missing


def test_a_bucket_failure_raises_and_is_not_remembered_as_missing(tmp_path):
    bucket = FakeBucket({"ok.so/A1/ok.so.sym": b"MODULE"}, failing=[PDB_KEY])
    fetch = fetcher(tmp_path, bucket)
    with pytest.raises(SymbolsUnavailable, match="HTTP 503"):
        fetch.fetch(["ok.so/A1/ok.so.sym", PDB_KEY])
    assert PDB_KEY not in fetch.missing


def test_a_cache_write_failure_raises(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "test_app.pdb").write_text("a file where a directory must go")
    fetch = fetcher(tmp_path, FakeBucket({PDB_KEY: b"MODULE"}))
    with pytest.raises(SymbolsUnavailable, match="symbol cache"):
        fetch.fetch([PDB_KEY])


def write(path, size, atime):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    os.utime(path, (atime, atime))


def test_prune_drops_least_recently_used_first(tmp_path):
    write(tmp_path / "a.pdb" / "1" / "a.sym", 400, atime=1000)
    write(tmp_path / "b.pdb" / "2" / "b.sym", 400, atime=3000)
    write(tmp_path / "c.pdb" / "3" / "c.sym", 400, atime=2000)
    assert prune_cache(tmp_path, 800) == 400
    assert not (tmp_path / "a.pdb" / "1" / "a.sym").exists()
    assert (tmp_path / "b.pdb" / "2" / "b.sym").exists() and (tmp_path / "c.pdb" / "3" / "c.sym").exists()
    assert prune_cache(tmp_path, 800) == 0


def test_prune_is_rate_limited(tmp_path):
    cache = SymbolCache(tmp_path, max_bytes=0, interval_seconds=3600)
    write(tmp_path / "a.sym", 10, atime=1000)
    assert cache.prune_if_due() == 10
    write(tmp_path / "b.sym", 10, atime=1000)
    assert cache.prune_if_due() == 0  # not due yet
    assert (tmp_path / "b.sym").exists()


def test_missing_cache_directory(tmp_path):
    assert prune_cache(tmp_path / "nothing-yet", 0) == 0


def test_missing_symbols_are_remembered_for_the_ttl():
    now = [1000.0]
    missing = MissingSymbols(ttl=60, max_entries=2, clock=lambda: now[0])
    missing.add("a.pdb/1/a.sym")
    assert "a.pdb/1/a.sym" in missing
    now[0] += 61
    assert "a.pdb/1/a.sym" not in missing
    missing.add("b")
    missing.discard("b")
    assert "b" not in missing


def test_missing_symbols_stay_bounded():
    missing = MissingSymbols(ttl=60, max_entries=2)
    for key in ("a", "b", "c"):
        missing.add(key)
    assert "c" in missing and len(missing) == 2
    assert "a" not in missing  # the least recently used went
    nothing_kept = MissingSymbols(ttl=0)
    nothing_kept.add("a")
    assert "a" not in nothing_kept
