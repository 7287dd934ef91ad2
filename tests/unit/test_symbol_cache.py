import os

from crashflow.processor.symbols import SymbolCache, prune_cache


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
