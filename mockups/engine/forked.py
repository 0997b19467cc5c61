"""What a build draws after its variants (contact sheets, the products' overlays), side by side.

Drawing a sheet is mostly Python under the GIL, so threads do not spread sheets over the cores.
An overlay is a photo analysed again with OpenCV, which must not run in a forked child
(`start_all`): the overlays run in threads (decoding, the analysis and encoding leave the GIL).
The tasks are closures over the catalog and the manifest's entries: in forked processes nothing
is pickled but their results. Where `fork` is not available, or for a single task, they run in
threads. They are started (`start_all`) as soon as what they draw from is final, and the build
saves its manifest and records meanwhile.
"""

from __future__ import annotations

import functools
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from mockups.limits import cores

T = TypeVar("T")

FORK_FROM = 2  # tasks from which they run in processes (one task gains nothing from a fork)
_TASKS: dict[int, Sequence[Callable[[], Any]]] = {}


class Running(Generic[T]):
    """Tasks started by `start_all`, running while the caller goes on."""

    def __init__(self, pool: Executor | None, results: Iterator[T], key: int | None = None) -> None:
        self._pool, self._results, self._key = pool, results, key

    def results(self) -> list[T]:
        """Each task's result, in order (waits for them); a task's exception is raised here."""
        try:
            return list(self._results)
        finally:
            self.close()

    def close(self) -> None:
        """Stop: tasks not begun are not begun; those running are waited for."""
        pool, self._pool = self._pool, None
        try:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        finally:
            if self._key is not None:
                _TASKS.pop(self._key, None)


def start_all(tasks: Sequence[Callable[[], T]], *, fork: bool = True) -> Running[T]:
    """Start the tasks and return at once: in forked processes, one per core, when there are at
    least FORK_FROM tasks and several cores (and `fork`); else in threads, one per core. The
    processes are forked here, so what the caller changes afterwards is not seen by the tasks.
    Tasks that call OpenCV must not be forked (`fork=False`): a fork copies the locks of its
    thread pool as they are, and one held by a thread of this process that has just run OpenCV
    (a build with -j 1 makes its variants in this process) is held in the child for ever.
    Put the longest tasks first: they are handed out in order."""
    if not tasks:
        return Running(None, iter(()))
    workers = min(len(tasks), cores())
    if fork and len(tasks) >= FORK_FROM and workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        key = id(tasks)
        _TASKS[key] = tasks
        pool: Executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
        try:  # every process is forked by the first submission, before this returns
            results = pool.map(functools.partial(_run, key), range(len(tasks)),
                               chunksize=max(1, len(tasks) // (8 * workers)))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            _TASKS.pop(key, None)
            raise
        return Running(pool, results, key)
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    return Running(pool, pool.map(lambda task: task(), tasks))


def _run(key: int, index: int) -> Any:
    return _TASKS[key][index]()
