"""The stackwalker's on-disk symbol cache, filled from the symbols bucket on demand.

minidump-stackwalk reads symbols from the cache directory only (``--symbols-path``): a
local read costs less CPU than its HTTP client. The modules it needed and found no symbols
for come back as ``missing_symbols`` in its output; ``SymbolFetcher`` copies those from the
bucket (``<debug_file>/<DEBUG_ID>/<name>.sym``, the Breakpad symbol server layout) into
the cache, so the stackwalker can walk again with them. ``SymbolCache`` keeps the directory
under its size limit.
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from crashflow.late_symbols import UploadWatcher
from crashflow.metrics import PROCESS_SYMBOL_DOWNLOAD_BYTES, PROCESS_SYMBOL_DOWNLOADS
from crashflow.stores.errors import StoreUnavailable
from crashflow.stores.interfaces import SymbolFiles, SymbolUploads
from crashflow.stores.layout import modules_missing_symbols, symbol_key
from crashflow.ttlcache import TtlCache


class SymbolsUnavailable(StoreUnavailable):
    """The symbols bucket (or the cache directory) failed: whether a module has symbols is
    unknown, so the crash must not be stored as walked without them."""


def missing_symbol_keys(json_dump: dict) -> list[str]:
    """The symbol keys of the modules the stackwalker needed and had no symbols for, in
    module order, each once; modules with unsafe names are left out."""
    return [key for key, _ in modules_missing_symbols(json_dump)]


class MissingSymbols(TtlCache):
    """Symbol keys the bucket did not have, remembered for ``ttl`` seconds: the stackwalker
    reports every module without symbols on every crash, and each miss would cost an S3
    round trip."""

    def __init__(self, ttl: float, max_entries: int = 100_000, clock=time.monotonic):
        super().__init__(ttl, max_entries, clock)


class SymbolFetcher:
    """Copies symbol files from ``source`` into ``directory``; shared by request threads.

    With ``uploads``, it learns of every symbol upload within ``poll_seconds``
    (``catch_up``) and forgets what it knew of those files: the bucket's "no such file",
    and an older copy in the cache (a symbol file uploaded again, fixed)."""

    def __init__(self, directory: Path, source: SymbolFiles, missing: MissingSymbols, workers: int = 8,
                 uploads: SymbolUploads | None = None, poll_seconds: float = 2.0):
        self.directory = Path(directory)
        self.source = source
        self.missing = missing
        self.watcher = UploadWatcher(uploads, self.forget, poll_seconds) if uploads is not None else None
        # A crash's missing modules are fetched side by side: each is a network round trip,
        # and a first crash of a Windows app can miss dozens.
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="symbols")

    def catch_up(self) -> int:
        """Forget the files uploaded since the last look, when a look is due (before a walk);
        how many."""
        return self.watcher.poll() if self.watcher is not None else 0

    def forget(self, key: str) -> None:
        """The bucket's file under ``key`` is new: ask for it again next time it is needed."""
        self.missing.discard(key)
        if symbol_key(*key.split("/")[:2]) == key:  # a record names a file under the cache, never elsewhere
            (self.directory / key).unlink(missing_ok=True)

    def fetch(self, keys: list[str], fresh: bool = False) -> int:
        """Fetch ``keys`` into the cache; return how many were found. Keys the bucket lacked
        lately are not asked for again unless ``fresh`` (reprocessing: they may just have
        been uploaded). SymbolsUnavailable when the bucket or the disk failed."""
        wanted = [key for key in keys if fresh or key not in self.missing]
        return sum(self.pool.map(self._fetch_one, wanted))

    def _fetch_one(self, key: str) -> bool:
        try:
            body = self.source.get(key)
        except StoreUnavailable as error:  # "are there symbols?" is left unanswered
            raise SymbolsUnavailable(error.store, f"symbols bucket: {key}: {error}") from error
        if body is None:
            self.missing.add(key)
            PROCESS_SYMBOL_DOWNLOADS.labels("absent").inc()
            return False
        PROCESS_SYMBOL_DOWNLOADS.labels("found").inc()
        PROCESS_SYMBOL_DOWNLOAD_BYTES.inc(len(body))
        try:
            self._write(key, body)
        except OSError as error:
            raise SymbolsUnavailable("symbol cache", f"{key}: {error}") from error
        self.missing.discard(key)
        return True

    def _write(self, key: str, body: bytes) -> None:
        """Write atomically: a stackwalker running meanwhile sees the whole file or none."""
        target = self.directory / key
        target.parent.mkdir(parents=True, exist_ok=True)
        # Next to its target: os.replace is atomic within one file system.
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(body)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


class SymbolCache:
    """The symbol cache directory, kept under ``max_bytes``."""

    def __init__(self, directory: Path, max_bytes: int, interval_seconds: float = 60):
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.interval = interval_seconds
        self._next_prune = 0.0
        self._lock = threading.Lock()

    def prune_if_due(self) -> int:
        """Prune when the last prune is older than the interval; walking the tree on every
        crash would cost more than the stackwalk."""
        with self._lock:
            if time.monotonic() < self._next_prune:
                return 0
            self._next_prune = time.monotonic() + self.interval
        return prune_cache(self.directory, self.max_bytes)


def prune_cache(directory: Path, max_bytes: int) -> int:
    """Delete the least recently used files until the cache fits ``max_bytes``; return bytes freed."""
    if not Path(directory).is_dir():
        return 0
    stats = {}
    for path in Path(directory).rglob("*"):
        try:
            info = path.stat()
        except FileNotFoundError:  # a fetch's temporary file, renamed meanwhile
            continue
        if stat.S_ISREG(info.st_mode):
            stats[path] = info
    total = sum(info.st_size for info in stats.values())
    freed = 0
    for path in sorted(stats, key=lambda p: stats[p].st_atime):
        if total - freed <= max_bytes:
            break
        path.unlink(missing_ok=True)
        freed += stats[path].st_size
    return freed
