"""One small LRU cache for every in-memory cache of the package (`LRU.get_or(key, make)`).

`LRU(size)` keeps the `size` most recently used values and drops the least recently used one
when a new value would make it larger. `LRU(size, thread_safe=True)` may be shared by threads:
lookups and stores hold one short lock, never while a value is being made; a missing value is
made once (one maker per key, the others asking for that key wait for it) and makers of other
keys are not held up. A maker that raises stores nothing: the next one waiting tries again.
Makers may use other caches (a cache's own lock is never held while its makers run).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

V = TypeVar("V")

__all__ = ["LRU"]

_MISSING = object()


class LRU(Generic[V]):
    """At most `size` values by key, the least recently used dropped first; optionally thread-safe."""

    def __init__(self, size: int, *, thread_safe: bool = False):
        if size < 1:
            raise ValueError(f"an LRU cache holds at least one value, not {size}")
        self.size = size
        self.thread_safe = thread_safe
        self._data: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock() if thread_safe else None
        self._making: dict[Hashable, list] = {}  # key -> [its maker's lock, threads using that lock]

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: Hashable) -> bool:
        if self._lock is None:
            return key in self._data
        with self._lock:
            return key in self._data

    def get(self, key: Hashable, default: V | None = None) -> V | None:
        """The value for `key` (now the most recently used), or `default`; never makes one."""
        if self._lock is None:
            return self._hit(key, default)
        with self._lock:
            return self._hit(key, default)

    def put(self, key: Hashable, value: V) -> None:
        """Store `value` as the most recently used, dropping the least recently used beyond `size`."""
        if self._lock is None:
            self._store(key, value)
        else:
            with self._lock:
                self._store(key, value)

    def get_or(self, key: Hashable, make: Callable[[], V]) -> V:
        """The value for `key`, made by `make()` and stored if it is not there."""
        if self._lock is None:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
            value = make()
            self._store(key, value)
            return value
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
            entry = self._making.get(key)
            if entry is None:
                entry = self._making[key] = [threading.Lock(), 0]
            entry[1] += 1
        try:
            with entry[0]:  # one maker per key; the others wait here, then find its value
                with self._lock:
                    if key in self._data:
                        self._data.move_to_end(key)
                        return self._data[key]
                value = make()
                with self._lock:
                    self._store(key, value)
                return value
        finally:
            with self._lock:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._making[key]

    def clear(self) -> None:
        if self._lock is None:
            self._data.clear()
        else:
            with self._lock:
                self._data.clear()

    def _hit(self, key, default):
        value = self._data.get(key, _MISSING)
        if value is _MISSING:
            return default
        self._data.move_to_end(key)
        return value

    def _store(self, key, value) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)
