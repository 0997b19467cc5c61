"""`build --batch`: the stale jobs a backend can batch go to its batch API (OpenAI's Batch API:
`backends/openai/batch.py`) instead of the runner; the rest are made as usual.

One build does, in order:
1. **collect**: each batch submitted before is polled; a finished one's results become outputs in
   the cache (finished exactly as a direct request's would be) or failed variants with their
   reason; results for keys the catalog no longer makes are dropped;
2. **submit** the stale batchable jobs that no batch holds yet (a job that failed in step 1 waits
   for the next build, so a bad request is not resubmitted in a loop);
3. leave the jobs still in a batch as `pending`: the CLI exits with its own code while any is.

A Batch API that cannot be reached or read is a warning (`BatchRun.warnings`): what it holds
stays recorded, and the next build tries again. A build without --batch leaves the jobs that
recorded batches hold alone (`pending_in_batches`), so they are not paid for twice.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, field
from typing import Callable

from mockups.engine.cache import ObjectStore
from mockups.engine.events import BuildEvent, Outcome, ended
from mockups.engine.outputs import finish
from mockups.engine.remote import RemoteCache
from mockups.errors import BackendError, BuildError
from mockups.jobs import Job

logger = logging.getLogger(__name__)


@dataclass
class BatchRun:
    """What the batch step did: results collected (`outcomes`), jobs still in a batch (`pending`),
    batches submitted now (`submitted`, ids), the jobs left for the runner (`to_run`), and what
    went wrong with the Batch API (`warnings`: the build goes on)."""

    outcomes: list[Outcome] = field(default_factory=list)
    pending: list[Job] = field(default_factory=list)
    submitted: list[str] = field(default_factory=list)
    to_run: list[Job] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


LINE_THREADS = 8  # requests prepared at once (each composites its images, then uploads those not sent yet)


def run_batched(backend, jobs: list[Job], store: ObjectStore, *, remote: RemoteCache | None = None,
                on_event: Callable[[BuildEvent], None] = lambda e: None, all_selected: bool = True) -> BatchRun:
    """Collect, submit, and say what is pending (see the module's docstring). `all_selected`:
    the build selects every variant, so results for keys it does not make are dropped; otherwise
    they are kept for a build that does."""
    if not hasattr(backend, "batches"):
        raise BuildError(f"the {backend.name} backend has no batch mode: --batch is for the openai backend")
    batches = backend.batches(store.root)
    by_key = {job.key: job for job in jobs}
    run = BatchRun()
    for outcome in _collect(backend, batches, by_key, store, remote, run.warnings, keep=not all_selected):
        run.outcomes.append(outcome)
        on_event(ended(outcome))
    answered = {o.job.key for o in run.outcomes}
    waiting = batches.pending_keys()
    batchable = [j for j in jobs if j.key not in answered and backend.batchable(j)]
    run.pending = [j for j in batchable if j.key in waiting]
    lines = _lines(backend, batches, [j for j in batchable if j.key not in waiting], run, on_event)
    try:
        submitted = batches.submit(lines)
    except BackendError as e:  # those variants stay stale: the next build submits them
        run.warnings.append(f"OpenAI batches: {len(lines)} requests could not be submitted: {e}")
        submitted = []
    run.submitted = [b.id for b in submitted]
    run.pending += [by_key[key] for b in submitted for key in b.jobs]
    run.to_run = [j for j in jobs if j.key not in answered and not backend.batchable(j)]
    logger.info("batch: %d collected, %d pending, %d submitted in %d batches, %d made directly",
                len(run.outcomes), len(run.pending), len(lines), len(submitted), len(run.to_run))
    return run


def _lines(backend, batches, jobs: list[Job], run: BatchRun, on_event) -> list[tuple[str, str, dict]]:
    """Each job's request line, made a few at a time; a job whose request cannot be made fails alone."""
    from concurrent.futures import ThreadPoolExecutor

    def line(job: Job):
        try:
            return job, backend.batch_line(job, batches), None
        except BackendError as e:  # an input the model's limits refuse; the Files API refusing an upload
            return job, None, (str(e), traceback.format_exc())

    out = []
    with ThreadPoolExecutor(LINE_THREADS) as pool:
        for job, body, failed in pool.map(line, jobs):
            if failed is None:
                out.append((job.key, job.id, body))
            else:
                outcome = Outcome(job, False, error=failed[0], traceback=failed[1])
                run.outcomes.append(outcome)
                on_event(ended(outcome))
    return out


def _collect(backend, batches, by_key: dict[str, Job], store: ObjectStore, remote: RemoteCache | None,
             warnings: list[str], keep: bool):
    for batch in batches.submitted():
        try:
            batch = batches.poll(batch)
        except BackendError as e:
            warnings.append(f"OpenAI batch {batch.id}: its state could not be read ({e}); the next build asks again")
            continue
        if batch.status not in ("completed", "expired", "cancelled", "failed"):
            logger.info("batch %s: %s (%s)", batch.id, batch.status, batch.counts)
            continue
        try:
            for found in batches.collect(batch, set(by_key), keep=keep):
                yield _outcome(backend, by_key[found.key], found, store, remote)
        except BackendError as e:
            warnings.append(str(e))


def pending_in_batches(backend, store: ObjectStore) -> set[str]:
    """The job keys that batches recorded in this cache folder hold (no request is made)."""
    found = getattr(backend, "batch_pending", None)
    return found(store.root) if found is not None else set()


def _outcome(backend, job: Job, found, store: ObjectStore, remote: RemoteCache | None) -> Outcome:
    if found.response is None:
        return Outcome(job, False, error=f"in the batch: {found.error}")
    try:
        rendered = backend.batch_rendered(job, found.response)
        data, thumb, meta = finish(job, rendered)
        store.put(job.key, job.variant.ext, data, meta, thumb)
    except BackendError as e:
        return Outcome(job, False, error=str(e), traceback=traceback.format_exc())
    if remote is not None:
        remote.push(job.key, job.variant.ext, store)
    return Outcome(job, True, meta=meta)
