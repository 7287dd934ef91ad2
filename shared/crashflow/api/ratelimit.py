"""Rate limits per client: a token bucket per key (a token's hash, or a client address).

Each bucket holds up to ``per_minute`` requests and refills at ``per_minute`` per minute,
so a client may burst a minute's allowance and then goes at the steady rate. Buckets live
in the process: with several instances each enforces its own share.
"""

from __future__ import annotations

import math
import threading
import time


class RateLimiter:
    def __init__(self, per_minute: int, max_keys: int = 100_000, clock=time.monotonic):
        self.per_minute = per_minute
        self.rate = per_minute / 60.0
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """0 when the request may go ahead, else the seconds until it could."""
        if self.per_minute <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * self.rate)
            if tokens >= 1:
                wait, tokens = 0.0, tokens - 1
            else:
                wait = (1 - tokens) / self.rate
            if len(self._buckets) >= self.max_keys and key not in self._buckets:
                self._forget_full_buckets(now)
            self._buckets[key] = (tokens, now)
        return wait

    def _forget_full_buckets(self, now: float) -> None:
        """Drop buckets that have refilled completely: they hold no information."""
        full = [key for key, (tokens, last) in self._buckets.items()
                if tokens + (now - last) * self.rate >= self.per_minute]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:
            self._buckets.clear()


def retry_after_seconds(wait: float) -> int:
    return max(1, math.ceil(wait))
