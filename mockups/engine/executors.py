"""Where a CPU-bound backend's chunks of jobs run: worker processes on this machine (the default),
or a Dask cluster (`--executor dask`, the `dask` extra).

Both are a `concurrent.futures.Executor` running `run_chunk(setup, jobs)`. A worker makes its
backend once per build (`WorkerSetup`, kept by its token), writes each output into the cache
itself (the local store, and the remote tier when one is set: on a cluster, the remote is how the
outputs reach this machine) and returns metadata and digests, never image bytes.

Dask's pitfalls, avoided here: the chunk is passed positionally (`submit` takes keyword arguments
named `key`, `retries`, `pure` for itself), tasks are not pure (equal arguments must not share a
result), and there are 50-200 jobs a task (each task costs about a millisecond). A worker that
dies has its tasks run again by the scheduler (`retries` more for a task that fails otherwise);
the outputs the dead worker had finished are in the cache and are not made again.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mockups.backends.base import Backend, get_backend
from mockups.engine.cache import ObjectStore
from mockups.engine.outputs import finish
from mockups.engine.remote import RemoteCache
from mockups.errors import BackendError, BuildError, FatalBackendError
from mockups.jobs import Job

logger = logging.getLogger(__name__)

EXECUTORS = ("processes", "dask")
DASK_RETRIES = 2  # a task that raised (not a job: each job's error is returned) runs at most this many more times


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs to make jobs: the backend by name and options, the cache folder, whether
    to reuse what the cache has, and the remote tier. `token` names one build's setup."""

    backend: str
    options: dict
    store_root: str
    reuse: bool
    remote: RemoteCache | None = None
    token: str = field(default_factory=lambda: uuid.uuid4().hex)


# (ok, meta or error, fatal, traceback) per job; the remote's new warnings; its request counts
ChunkResult = tuple[list[tuple[bool, dict | str, bool, str | None]], list[str], dict[str, int]]

_WORKER: dict = {}


def make_output(backend: Backend, job: Job, store: ObjectStore, reuse: bool = True,
                remote: RemoteCache | None = None) -> dict:
    """Render, encode and store one job (also in the remote cache, if any); return the cache
    metadata. With `reuse`, an object the store already has (made by a build that held the lock
    while this one was planned, or by a worker that died after making it) is not made again."""
    found = store.get(job.key, job.variant.ext) if reuse else None
    if found:
        if remote is not None:  # made by a worker that died before its upload finished, say
            remote.push_soon(job.key, job.variant.ext, store)
        return found[1]
    rendered = backend.render(job)
    data, thumb, meta = finish(job, rendered)
    store.put(job.key, job.variant.ext, data, meta, thumb)
    if remote is not None:
        remote.push_soon(job.key, job.variant.ext, store)  # a failure is the remote's warning, never the job's
    return meta


def failure(exc: Exception) -> tuple[str, bool]:
    """What a job's exception means: the error to record (on one line: a library's message over
    several lines would break the log's one line per failure), and whether it stops the whole build."""
    error, fatal = _failure(exc)
    return " ".join(error.split()), fatal


def _failure(exc: Exception) -> tuple[str, bool]:
    if isinstance(exc, (FatalBackendError, BuildError)):  # BuildError: the disk is full, nothing more can be saved
        return str(exc), True
    if isinstance(exc, BackendError):
        return str(exc), False
    if isinstance(exc, cf.BrokenExecutor):  # not cf.process...: that submodule is there only once imported
        return f"worker process died: {exc}", True
    return f"{type(exc).__name__}: {exc}", False  # a bug or an unexpected library error: record it, keep going


def run_chunk(setup: WorkerSetup, jobs: list[Job]) -> ChunkResult:
    """Make a group of jobs that share work (one product, or one product in one colour) in this
    worker. Each job's result is returned separately, so one failure does not fail its neighbours."""
    if _WORKER.get("token") != setup.token:
        _WORKER.clear()
        _WORKER.update(token=setup.token, backend=get_backend(setup.backend, setup.options),
                       store=ObjectStore(Path(setup.store_root)), remote=setup.remote)
    remote: RemoteCache | None = _WORKER["remote"]
    seen = len(remote.problems) if remote else 0
    before = dict(remote.requests) if remote else {}
    results: list[tuple[bool, dict | str, bool, str | None]] = []
    for job in jobs:
        try:
            meta = make_output(_WORKER["backend"], job, _WORKER["store"], setup.reuse, remote)
            results.append((True, meta, False, None))
        except Exception as e:
            results.append((False, *failure(e), traceback.format_exc()))
    if remote is None:
        return results, [], {}
    remote.flush()  # the chunk's outputs are all in the remote (or its failure is known) before it reports
    requests = {k: n - before.get(k, 0) for k, n in remote.requests.items() if n != before.get(k, 0)}
    return results, remote.problems[seen:], requests


@dataclass
class Pool:
    """An executor, how many chunks it runs at once, how to shut it down, and how to stop its work
    now (Ctrl-C: the chunks in flight are not made to their end)."""

    executor: cf.Executor
    workers: int
    close: Callable[[], None]
    abort: Callable[[], None] | None = None


def open_pool(kind: str, workers: int, setup: WorkerSetup, scheduler: str | None = None) -> Pool:
    if kind == "dask":
        return _dask(workers, scheduler)
    if kind != "processes":
        raise BuildError(f"unknown executor '{kind}': the executors are {', '.join(EXECUTORS)}")
    pool = cf.ProcessPoolExecutor(workers, initializer=_init_process, initargs=(os.getpid(),))
    return Pool(pool, workers, lambda: pool.shutdown(wait=True, cancel_futures=True), lambda: _stop(pool))


def _stop(pool: cf.ProcessPoolExecutor) -> None:
    """End the worker processes now, mid-chunk: what they finished is in the store whole (an
    object's record is written last), what they were writing is a temporary file the next build
    removes, and the rest is made by the next build."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # the executor has no public handle
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)


def _init_process(parent: int) -> None:
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: int) -> None:
    """Leave when the build process is gone (SIGKILL): an orphan would go on writing without the lock."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _dask(workers: int, scheduler: str | None) -> Pool:
    """The cluster at `scheduler` (else Dask's own `DASK_SCHEDULER_ADDRESS`), or a LocalCluster of
    `workers` single-threaded worker processes, which is closed with the pool."""
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise BuildError("--executor dask needs Dask: pip install 'mockups[dask]'") from None
    address = scheduler or dask.config.get("scheduler-address", None)
    cluster, config = None, None
    try:
        if address:
            client = Client(address, timeout="30s")
            workers = max(1, sum(client.nthreads().values()))
            logger.info("dask: scheduler %s, %d worker threads", address, workers)
        else:
            config = dask.config.set({"distributed.nanny.pre-spawn-environ": _environ()})  # undone by close()
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(cluster)
            logger.info("dask: a LocalCluster of %d worker processes", workers)
    except OSError as e:
        if cluster is not None:
            cluster.close()
        if config is not None:
            config.__exit__(None, None, None)
        raise BuildError(f"cannot reach the Dask scheduler {address}: {e}") from None
    executor = client.get_executor(pure=False, retries=DASK_RETRIES)

    def close() -> None:
        executor.shutdown(wait=False)
        client.close()
        if cluster is not None:
            cluster.close()
        if config is not None:
            config.__exit__(None, None, None)

    return Pool(executor, workers, close)


def _environ() -> dict:
    """The environment Dask gives a worker process before it starts, without the
    MALLOC_TRIM_THRESHOLD_ of 64 KiB it sets: with it, each of the compositor's image-sized
    allocations is handed back to the system and faulted in again (measured: a fresh 240-variant
    build at 1024x1024 on 2 workers spent 11.7 s in the kernel instead of 2.1 s, and took 41 s
    instead of 23 s). Workers on a cluster of your own keep their cluster's setting."""
    import dask

    found = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    found.pop("MALLOC_TRIM_THRESHOLD_", None)
    return found
