"""One rate limiter, shared by threads: at most N events in any sliding window, and server slowdowns.

The runner holds one for the whole build (`--rpm` / `requests_per_minute`, counting job starts;
a 429's Retry-After `pause`s every worker). The `openai` backend holds a second one right before
each HTTP call, with a window a little longer than a minute, because the server counts arrivals.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """At most `per_minute` acquisitions in any `window` seconds (None or 0: no limit), shared by
    every thread; `pause(seconds)` holds every acquisition back for that long (a server's Retry-After).

    `clock` and `sleep` are injectable for tests (a fake clock advanced by the fake sleep).
    """

    def __init__(self, per_minute: float | None, window: float = 60.0, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], object] = time.sleep):
        if per_minute is not None and per_minute < 0:
            raise ValueError(f"a rate limit of {per_minute} requests a minute (give a positive number, or none)")
        self.per_minute, self.window = per_minute, window
        self.clock, self.sleep = clock, sleep
        self.starts: deque[float] = deque()
        self.paused_until = 0.0
        self.lock = threading.Lock()

    def pause(self, seconds: float) -> None:
        """No acquisition succeeds for `seconds` from now (a longer pause already set stays)."""
        with self.lock:
            self.paused_until = max(self.paused_until, self.clock() + seconds)

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Wait for a slot and take it: True. False if `stop` was set while waiting (no slot taken)."""
        while True:
            with self.lock:
                now = self.clock()
                wait = self.paused_until - now
                if self.per_minute:
                    while self.starts and now - self.starts[0] >= self.window:
                        self.starts.popleft()
                    if len(self.starts) >= self.per_minute:
                        wait = max(wait, self.window - (now - self.starts[0]))
                if wait <= 0:
                    if self.per_minute:
                        self.starts.append(now)
                    return True
            if stop is not None and stop.is_set():
                return False
            self.sleep(min(max(wait, 0.01), 0.5))
