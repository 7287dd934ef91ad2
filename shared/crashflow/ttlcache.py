"""A small thread-safe cache whose entries expire ``ttl`` seconds after they were made."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from typing import Any

_MISSING = object()


class TtlCache:
    def __init__(self, ttl: float, max_entries: int = 10_000, clock=time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._computing: dict[Hashable, tuple[threading.Lock, int]] = {}  # key: (its lock, users)
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The cached value of ``key``, or ``compute()`` (then cached). With ``ttl`` 0 or
        less nothing is cached. Callers that find the same key missing at the same time
        wait for one ``compute()`` (a per-key lock) instead of each running it; other keys
        are not held up."""
        if self.ttl <= 0:
            return compute()
        value = self._fresh(key)
        if value is not _MISSING:
            return value
        with self._key_lock(key):
            value = self._fresh(key)  # computed by the caller we waited for
            if value is not _MISSING:
                return value
            value = compute()
            self._store(key, value)
        return value

    def _fresh(self, key: Hashable) -> Any:
        with self._lock:
            entry = self._entries.get(key)
        return entry[1] if entry is not None and entry[0] > self.clock() else _MISSING

    def _store(self, key: Hashable, value: Any) -> None:
        now = self.clock()
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries = {k: e for k, e in self._entries.items() if e[0] > now}
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
            self._entries[key] = (now + self.ttl, value)

    @contextlib.contextmanager
    def _key_lock(self, key: Hashable) -> Iterator[None]:
        with self._lock:
            lock, users = self._computing.get(key, (None, 0))
            lock = lock or threading.Lock()
            self._computing[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._lock:
                lock, users = self._computing[key]
                if users == 1:
                    del self._computing[key]
                else:
                    self._computing[key] = (lock, users - 1)
