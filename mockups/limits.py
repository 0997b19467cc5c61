"""Limits shared by more than one layer, named once."""

import os

#: The largest image (width x height) any input may have: checked from the header by the catalog's
#: checks and again by the compositor before decoding, so a decompression bomb is refused in plain words.
MAX_PIXELS = 64_000_000


def cores() -> int:
    """The cores this process may run on (its CPU affinity where the system has one): the local
    backend's default workers, the overlays' threads, the processes that draw after a build."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
