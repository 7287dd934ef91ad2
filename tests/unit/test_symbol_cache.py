import os

from crashflow.processor import symbols
from crashflow.processor.symbols import MissingSymbols, SymbolCache, prune_cache


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


def test_missing_symbols_are_remembered_for_the_ttl(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(symbols.time, "monotonic", lambda: now[0])
    missing = MissingSymbols(ttl=60, max_entries=2)
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
    assert "c" in missing and len(missing._until) <= 2
