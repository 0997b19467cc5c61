"""What a build draws after its variants (contact sheets, the products' overlays), side by side.

Drawing a sheet is mostly Python under the GIL, and an overlay is a photo analysed again, so
threads do not spread them over the cores. The tasks are closures over the catalog and the
manifest's entries: in forked processes nothing is pickled but their results. Where `fork` is not
available, or for a single task, they run in threads.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, TypeVar

from mockups.limits import cores

T = TypeVar("T")

FORK_FROM = 2  # tasks from which they run in processes (one task gains nothing from a fork)
_TASKS: dict[str, Sequence[Callable[[], Any]]] = {}


def run_all(tasks: Sequence[Callable[[], T]]) -> list[T]:
    """Each task's result, in order: in forked processes, one per core, when there are at least
    FORK_FROM tasks and several cores; else in threads, one per core.
    Put the longest tasks first: they are handed out in order."""
    if not tasks:
        return []
    workers = min(len(tasks), cores())
    if len(tasks) >= FORK_FROM and workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        _TASKS["work"] = tasks
        try:
            with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
                return list(pool.map(_run, range(len(tasks)), chunksize=max(1, len(tasks) // (8 * workers))))
        finally:
            _TASKS.clear()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(lambda task: task(), tasks))


def _run(index: int) -> Any:
    return _TASKS["work"][index]()
