"""What is worth remembering for a while: cachetools' ``TTLCache`` (each entry expires
``ttl`` seconds after it was made; past ``max_entries``, the least recently used goes),
shared by threads. Used for answers (API tokens, aggregates) and as a set of keys (the
symbol files the bucket lacked)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

import cachetools


class TtlCache:
    def __init__(self, ttl: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self._lock = threading.Lock()
        # With ttl 0 or less nothing is kept.
        self._cache = cachetools.TTLCache(max_entries, ttl, timer=clock) if ttl > 0 else None
        if self._cache is not None:
            # Callers that find the same key missing at the same time wait for one
            # compute() (cachetools' stampede guard) instead of each running it; other keys
            # are not held up.
            self._cached = cachetools.cached(
                self._cache, key=lambda key, compute: key, lock=self._lock, condition=threading.Condition(self._lock),
            )(lambda key, compute: compute())

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value kept for ``key``, or ``compute()`` (then kept)."""
        if self._cache is None:
            return compute()
        return self._cached(key, compute)

    def add(self, key: Hashable) -> None:
        """Remember ``key`` (as a member of a set) for ``ttl`` seconds."""
        if self._cache is not None:
            with self._lock:
                self._cache[key] = True

    def discard(self, key: Hashable) -> None:
        if self._cache is not None:
            with self._lock:
                self._cache.pop(key, None)

    def __contains__(self, key: Hashable) -> bool:
        if self._cache is None:
            return False
        with self._lock:
            return key in self._cache

    def __len__(self) -> int:
        if self._cache is None:
            return 0
        with self._lock:
            self._cache.expire()
            return len(self._cache)
