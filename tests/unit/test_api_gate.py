"""Rate limiting (pure logic)."""

from crashflow.api.ratelimit import RateLimiter, retry_after_seconds


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_rate_limiter_allows_a_minute_burst_then_the_steady_rate():
    clock = Clock()
    limiter = RateLimiter(60, clock=clock)
    assert all(limiter.acquire("a") == 0 for _ in range(60))
    wait = limiter.acquire("a")
    assert 0 < wait <= 1 and retry_after_seconds(wait) == 1
    assert limiter.acquire("b") == 0  # another client has its own bucket
    clock.now += 1.0
    assert limiter.acquire("a") == 0
    assert limiter.acquire("a") > 0


def test_rate_limit_zero_is_off():
    limiter = RateLimiter(0)
    assert all(limiter.acquire("a") == 0 for _ in range(1000))


def test_rate_limiter_forgets_full_buckets_when_it_has_too_many():
    clock = Clock()
    limiter = RateLimiter(60, max_keys=10, clock=clock)
    for n in range(10):
        limiter.acquire(f"k{n}")
    clock.now += 120
    limiter.acquire("new")
    assert len(limiter._buckets) == 1


def test_ttl_cache_reuses_values_until_they_expire():
    from crashflow.ttlcache import TtlCache

    clock = Clock()
    cache = TtlCache(10, max_entries=2, clock=clock)
    computed = []

    def compute(value):
        computed.append(value)
        return value

    assert cache.get_or_compute("a", lambda: compute(1)) == 1
    assert cache.get_or_compute("a", lambda: compute(2)) == 1
    clock.now += 10
    assert cache.get_or_compute("a", lambda: compute(3)) == 3
    cache.get_or_compute("b", lambda: compute(4))
    cache.get_or_compute("c", lambda: compute(5))  # over the bound: the least recently used goes
    assert len(cache) == 2 and "a" not in cache and "c" in cache
    assert computed == [1, 3, 4, 5]
    assert TtlCache(0).get_or_compute("a", lambda: compute(6)) == 6
    assert TtlCache(0).get_or_compute("a", lambda: compute(7)) == 7
