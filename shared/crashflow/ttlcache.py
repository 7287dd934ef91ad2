"""A small thread-safe cache whose entries expire ``ttl`` seconds after they were made."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any


class TtlCache:
    def __init__(self, ttl: float, max_entries: int = 10_000, clock=time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The cached value of ``key``, or ``compute()`` (then cached). With ``ttl`` 0 or
        less nothing is cached."""
        if self.ttl <= 0:
            return compute()
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        value = compute()
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries = {k: e for k, e in self._entries.items() if e[0] > now}
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
            self._entries[key] = (now + self.ttl, value)
        return value
