"""Executes stale jobs: bounded concurrency, a shared rate limit, retries, a budget, and no lost work.

CPU-bound backends (`parallelism = "process"`) run in worker processes, one per core (or on a Dask
cluster: `engine.executors`), fed jobs in product order so a worker reuses its per-product work;
network-bound backends run in threads. Each finished output goes into the cache atomically inside
the worker, so a killed build keeps every finished variant. Jobs are launched lazily (a small
window ahead of the workers), so a budget, a `--fail-fast` stop or Ctrl-C leaves nothing queued
behind it.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import threading
import traceback
from collections import deque
from dataclasses import dataclass
from typing import Callable

import tenacity

from mockups._ratelimit import RateLimiter  # the build's shared rate limit (tests import it from here)
from mockups.backends.base import Backend
from mockups.engine.cache import ObjectStore
from mockups.engine.events import BuildEvent, JobRetrying, JobStarted, Outcome, ended
from mockups.engine.executors import WorkerSetup, failure, make_output, open_pool, run_chunk  # noqa: F401
from mockups.engine.remote import RemoteCache
from mockups.errors import MockupsError, TransientBackendError
from mockups.jobs import Job

logger = logging.getLogger(__name__)


WATCH_EVERY = 0.25  # seconds between looks in the store for what the chunks in flight have finished
WATCH_PAST = 2  # outputs not there yet after which a look at a chunk stops (one being made, one failed)
MAX_RETRY_AFTER = 120.0  # seconds; a longer Retry-After fails the variant instead of stalling the build (as the SDK)


class Interrupted(MockupsError):
    """The build was stopped (Ctrl-C, --fail-fast, budget) before this job started."""


@dataclass
class RunOptions:
    concurrency: int = 1
    retries: int = 3
    requests_per_minute: float | None = None
    fail_fast: bool = False
    max_cost: float | None = None
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    reuse: bool = True  # False for --force: make every job even if the store has it
    remote: RemoteCache | None = None  # the shared tier each new output is also written to
    executor: str = "processes"  # or "dask": where CPU-bound backends' chunks run (engine.executors)
    scheduler: str | None = None  # the Dask scheduler's address


def chunks(jobs: list[Job], workers: int, limit: int = 48) -> list[list[Job]]:
    """Consecutive jobs that share work, at most `limit` each: whole products when there are at
    least as many as workers (each product prepared by one worker only: a photo's cut-out or scene
    segmentation takes seconds), else looks (a product in one colour: its recolour and design done
    once), so that every worker has work. The products left over when the others divide evenly
    among the workers (the last of 5 on 2 workers) go in looks too: otherwise one worker makes a
    whole product while the others wait, where sharing it costs each of them one preparation."""
    products = list(dict.fromkeys(job.inputs.get("product") for job in jobs))
    jobs = _colour_major(jobs, products)
    by_product = len(products) >= workers
    tail = set(products[len(products) - len(products) % workers:]) if by_product and workers > 1 else set()
    out: list[list[Job]] = []
    last = None
    for job in jobs:
        v, product = job.variant, job.inputs.get("product")
        look = (product,) if by_product and product not in tail else (product, v.colour.hex, job.inputs.get("design"))
        if out and look == last and len(out[-1]) < limit:
            out[-1].append(job)
        else:
            out.append([job])
        last = look
    return out


def _colour_major(jobs: list[Job], products: list) -> list[Job]:
    """A PSD template's jobs ordered by colour (a template keeps a few colours' backdrops, and the
    matrix orders designs outside colours); every other product's as they came."""
    if not any(job.variant.product.psd is not None for job in jobs):
        return jobs
    index = {p: i for i, p in enumerate(products)}
    return sorted(jobs, key=lambda j: (index[j.inputs.get("product")],
                                       j.variant.colour.hex if j.variant.product.psd is not None else ""))


# --- the run -------------------------------------------------------------------------------------

class Runner:
    """Runs jobs with a backend into a store; `on_event(event)` hears of each (see `engine.events`)."""

    def __init__(self, backend: Backend, store: ObjectStore, options: RunOptions,
                 on_event: Callable[[BuildEvent], None] | None = None,
                 on_started: Callable[[], None] | None = None):
        self.backend, self.store, self.options = backend, store, options
        self.on_event = on_event or (lambda event: None)
        # once the workers are there: worker processes are forked at the first chunk handed out,
        # and a fork copies the locks other threads of this process hold (an import's, say) held
        self.on_started = on_started or (lambda: None)
        self.limiter = RateLimiter(options.requests_per_minute)
        self.stop = threading.Event()
        self.stop_reason: str | None = None
        self.spent = 0.0

    def run(self, jobs: list[Job]) -> list[Outcome]:
        self.pending = deque(jobs)
        self.outcomes: list[Outcome] = []
        self.lock = threading.Lock()
        if not jobs:
            return []
        try:
            if self.backend.parallelism == "process" and self.options.concurrency > 1:
                self._run_processes()
            else:
                self._run_threads()
        except KeyboardInterrupt:
            self.halt("interrupted")
            raise
        return self.outcomes

    def halt(self, reason: str) -> None:
        if not self.stop.is_set():
            logger.info("stopping the build: %s", reason)
            self.stop_reason = reason
            self.stop.set()

    def _next_job(self) -> Job | None:
        """The next job to start, or None when done or stopped (budget, --fail-fast, fatal, Ctrl-C)."""
        if self.stop.is_set() or not self.pending:
            return None
        if self.options.max_cost is not None and self.spent >= self.options.max_cost:
            self.halt(f"budget of ${self.options.max_cost:.2f} reached (spent ${self.spent:.2f})")
            return None
        job = self.pending.popleft()
        logger.debug("%s: started", job.id)
        self.on_event(JobStarted(job))
        return job

    def _finish(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        self.spent += (outcome.meta or {}).get("cost", 0.0) or 0.0
        _log_outcome(outcome)
        self.on_event(ended(outcome))
        if outcome.fatal:
            self.halt(outcome.error or "fatal backend error")
        elif not outcome.ok and not outcome.skipped and self.options.fail_fast:
            self.halt(f"--fail-fast: {outcome.job.id} failed")

    def _run_threads(self) -> None:
        """Each worker thread pulls its next job itself: no dispatcher between a finished job and the next."""

        def worker() -> None:
            while True:
                with self.lock:
                    job = self._next_job()
                if job is None:
                    return
                outcome = self._guarded(job, self._attempt_loop)
                with self.lock:
                    self._finish(outcome)

        threads = [threading.Thread(target=worker, name=f"mockups-{i}", daemon=True)
                   for i in range(min(self.options.concurrency, len(self.pending)))]
        self.on_started()
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.2)  # a timed join keeps Ctrl-C deliverable; daemon threads are abandoned on it

    def _run_processes(self) -> None:
        """CPU-bound work in worker processes (or on a Dask cluster), fed whole products or looks
        (`chunks`) so a worker computes shared work once; two chunks a worker in flight."""
        setup = WorkerSetup(self.backend.name, self.backend.options, str(self.store.root), self.options.reuse,
                            self.options.remote)
        pool = open_pool(self.options.executor, self.options.concurrency, setup, self.options.scheduler)
        pending = deque(chunks(list(self.pending), pool.workers))
        self.pending.clear()
        running: dict[cf.Future, list[Job]] = {}
        # A chunk reports when it ends (up to 48 variants), so the variants it has finished are also
        # looked for in the store meanwhile: the progress and the manifest follow each variant. Not
        # with --force (the store holds the outputs being made again) or a remote tier (a chunk's
        # outputs count once they have reached it, at the chunk's end).
        watch = self.options.reuse and self.options.remote is None
        seen: dict[cf.Future, set[int]] = {}  # which of a chunk's jobs were found in the store
        started = False
        try:
            while True:
                while len(running) < 2 * pool.workers and pending:
                    self.pending.extend(pending.popleft())
                    batch = [job for job in iter(self._next_job, None)]
                    if not batch:
                        break
                    running[pool.executor.submit(run_chunk, setup, batch)] = batch
                    if not started:  # the first submission forks every worker process
                        started = True
                        self.on_started()
                if not running:
                    break
                done, _ = cf.wait(running, timeout=WATCH_EVERY if watch else None, return_when=cf.FIRST_COMPLETED)
                if watch:
                    for future, batch in running.items():
                        self._found_in_store(batch, seen.setdefault(future, set()))
                for future in done:
                    self._finish_chunk(running.pop(future), future, seen.pop(future, set()))
        except KeyboardInterrupt:
            if pool.abort is not None:  # the workers stop now, not at the end of their chunks
                pool.abort()
            if watch:  # what they finished counts (each is whole in the store)
                for future, batch in running.items():
                    self._found_in_store(batch, seen.setdefault(future, set()))
            raise
        finally:
            pool.close()

    def _found_in_store(self, batch: list[Job], reported: set[int]) -> None:
        """Report the chunk's jobs whose outputs are in the store, adding them to `reported`. The
        worker makes them in order, so the look stops a little past the first that is not there:
        the one being made, and one that failed (reported when its chunk ends)."""
        missing = 0
        for i, job in enumerate(batch):
            if i in reported:
                continue
            found = self.store.get(job.key, job.variant.ext)
            if found is None:
                missing += 1
                if missing > WATCH_PAST:
                    return
                continue
            reported.add(i)
            self._finish(Outcome(job, True, meta=found[1]))

    def _finish_chunk(self, batch: list[Job], future: cf.Future, reported: set[int]) -> None:
        """The chunk's results, but for the jobs in `reported` (found in the store already)."""
        remote = self.options.remote
        try:
            results, problems, requests = future.result()
        except Exception as e:
            results, problems, requests = [(False, *failure(e), traceback.format_exc())] * len(batch), [], {}
        if remote is not None:
            remote.requests.update(requests)
            for text in problems:
                remote.note(text)
        for i, (job, (ok, value, fatal, trace)) in enumerate(zip(batch, results, strict=True)):
            if i in reported:
                continue
            if ok and remote is not None and remote.known is not None and not remote.disabled:
                remote.known.add(job.key)  # the worker wrote it there: nothing for the build to write after
            if ok and not self._here(job):
                why = ("the worker's output reached neither this machine's cache nor the shared one (see the remote "
                       "cache's warning)" if remote is not None else "the worker's output is not in this machine's "
                       "cache: workers on other machines need a shared cache (--cache URL)")
                ok, value, fatal, trace = False, why, remote is None, None
            self._finish(Outcome(job, True, meta=value) if ok
                         else Outcome(job, False, error=value, fatal=fatal, traceback=trace))

    def _here(self, job: Job) -> bool:
        """Whether a worker's output is in the local store (fetched from the remote if need be)."""
        if self.store.get(job.key, job.variant.ext):
            return True
        remote = self.options.remote
        return remote is not None and remote.fetch(job.key, job.variant.ext, self.store, always=True)

    def _guarded(self, job: Job, work) -> Outcome:
        """Run work(job); turn every error into an Outcome so one variant never stops the others."""
        try:
            result = work(job)
        except Interrupted:
            return Outcome(job, False, error=f"not started: {self.stop_reason}", skipped=True)
        except Exception as e:
            error, fatal = failure(e)
            return Outcome(job, False, error=error, fatal=fatal, traceback=traceback.format_exc())
        if isinstance(result, Outcome):
            return result
        return Outcome(job, True, meta=result)

    def _attempt_loop(self, job: Job) -> Outcome:
        """Thread mode: rate-limited attempts with backoff that honours the server's Retry-After."""
        attempts = 0

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            base = min(self.options.backoff_max, self.options.backoff_base * 2 ** (state.attempt_number - 1))
            after = getattr(exc, "retry_after", None)
            if after:
                self.limiter.pause(after)  # every worker waits, not just this one
                return max(after, 0.0)
            return base

        def retryable(exc: BaseException) -> bool:
            after = getattr(exc, "retry_after", None) or 0.0
            return isinstance(exc, TransientBackendError) and after <= MAX_RETRY_AFTER

        def attempt() -> dict:
            nonlocal attempts
            attempts += 1
            if self.stop.is_set():
                raise Interrupted()
            if not self.limiter.acquire(self.stop):  # stopped while waiting for a slot
                raise Interrupted()
            meta = make_output(self.backend, job, self.store, self.options.reuse, self.options.remote)
            if self.options.remote is not None:
                self.options.remote.flush()
            return meta

        def sleep(seconds: float) -> None:
            self.stop.wait(seconds)  # a stop wakes a sleeping retry at once

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(retryable),
            stop=tenacity.stop_after_attempt(self.options.retries + 1), wait=wait, reraise=True,
            before_sleep=lambda state: self._retrying(job, state),
            sleep=sleep,
        )
        try:
            meta = retrying(attempt)
        except TransientBackendError as e:
            after = getattr(e, "retry_after", None) or 0.0
            why = (f"the server asked to wait {after:.0f} s, over the {MAX_RETRY_AFTER:.0f} s this build waits"
                   if after > MAX_RETRY_AFTER else f"gave up after {attempts} attempts")
            return Outcome(job, False, error=f"{e} ({why})", attempts=attempts, traceback=traceback.format_exc())
        return Outcome(job, True, meta=meta, attempts=attempts)

    def _retrying(self, job: Job, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        reason = str(exc) if exc else "transient error"
        logger.info("%s: attempt %d failed (%s); retrying in %.1f s", job.id, state.attempt_number, reason, delay)
        with self.lock:  # events one at a time
            self.on_event(JobRetrying(job, state.attempt_number + 1, reason, delay))


def _log_outcome(outcome: Outcome) -> None:
    """One line per finished job; a failure at ERROR with its traceback (formatted where it was
    raised, which may be a worker process: it is attached as a logged exception's would be)."""
    job = outcome.job
    if outcome.ok:
        logger.debug("%s: made (%d attempt%s)", job.id, outcome.attempts, "s" if outcome.attempts != 1 else "")
    elif outcome.skipped:
        logger.debug("%s: %s", job.id, outcome.error)
    elif logger.isEnabledFor(logging.ERROR):
        record = logger.makeRecord(logger.name, logging.ERROR, __file__, 0, "%s failed: %s",
                                   (job.id, outcome.error), None, func="_log_outcome")
        record.exc_text = (outcome.traceback or "").rstrip("\n") or None
        logger.handle(record)
