"""The package's one LRU cache (`mockups._lru`) and one rate limiter (`mockups._ratelimit`)."""

from __future__ import annotations

import threading
import time

import pytest

from mockups._lru import LRU
from mockups._ratelimit import RateLimiter


@pytest.mark.parametrize("thread_safe", [False, True])
def test_lru_keeps_the_most_recently_used(thread_safe):
    cache = LRU(2, thread_safe=thread_safe)
    made = []

    def make(key):
        made.append(key)
        return key.upper()

    assert cache.get_or("a", lambda: make("a")) == "A"
    assert cache.get_or("b", lambda: make("b")) == "B"
    assert cache.get_or("a", lambda: make("a")) == "A"  # a hit, and now the most recent
    cache.get_or("c", lambda: make("c"))  # drops b, the least recently used
    assert made == ["a", "b", "c"]
    assert "a" in cache and "c" in cache and "b" not in cache and len(cache) == 2
    assert cache.get("b") is None and cache.get("b", 0) == 0
    cache.put("d", "D")  # drops a
    assert "a" not in cache and cache.get("d") == "D"
    with pytest.raises(ValueError):
        LRU(0)


def test_a_failed_make_stores_nothing_and_the_next_caller_makes_it():
    cache = LRU(4, thread_safe=True)
    with pytest.raises(RuntimeError):
        cache.get_or("k", lambda: (_ for _ in ()).throw(RuntimeError("no")))
    assert "k" not in cache
    assert cache.get_or("k", lambda: 1) == 1


def test_a_shared_lru_makes_each_value_once_without_holding_up_other_keys():
    cache = LRU(8, thread_safe=True)
    calls: dict[str, int] = {}
    slow_started, other_done = threading.Event(), threading.Event()

    def make(key):
        calls[key] = calls.get(key, 0) + 1
        if key == "slow":
            slow_started.set()
            assert other_done.wait(5), "a maker of another key was held up by the slow one"
        return key

    results = []
    slow = [threading.Thread(target=lambda: results.append(cache.get_or("slow", lambda: make("slow"))))
            for _ in range(4)]
    for t in slow:
        t.start()
    assert slow_started.wait(5)
    assert cache.get_or("fast", lambda: make("fast")) == "fast"  # while "slow" is being made
    other_done.set()
    for t in slow:
        t.join(5)
    assert results == ["slow"] * 4 and calls == {"slow": 1, "fast": 1}  # one maker; the others waited
    assert not cache._making  # no per-key lock is kept once nobody waits on it


def test_rate_limiter_window_and_stop():
    now = [0.0]
    limiter = RateLimiter(2, window=60.5, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    starts = []
    for _ in range(5):
        assert limiter.acquire()
        starts.append(now[0])
    assert starts[:2] == [0.0, 0.0] and starts[2] >= 60.5 and starts[4] >= 121.0  # the window's margin counts
    assert limiter.acquire() and now[0] == starts[4]  # the window is full again
    stop = threading.Event()
    stop.set()
    assert limiter.acquire(stop) is False  # stopped while waiting: no slot taken
    assert len(limiter.starts) == 2 and now[0] == starts[4]
    now[0] += 1000  # the window is free again, but a server's slowdown holds every acquisition back
    limiter.pause(30)
    before = now[0]
    assert limiter.acquire() and now[0] - before >= 30
    unlimited = RateLimiter(None)
    t = time.monotonic()
    for _ in range(100):
        assert unlimited.acquire()
    assert time.monotonic() - t < 1.0 and not unlimited.starts
