"""`build --batch`: the stale jobs a backend can batch go to its batch API (OpenAI's Batch API:
`backends/openai/batch.py`) instead of the runner; the rest are made as usual.

One build does, in order:
1. **collect**: each batch submitted before is polled; a finished one's results become outputs in
   the cache (finished exactly as a direct request's would be) or failed variants with their
   reason; results for keys the catalog no longer makes are dropped;
2. **submit** the stale batchable jobs that no batch holds yet (a job that failed in step 1 waits
   for the next build, so a bad request is not resubmitted in a loop);
3. leave the jobs still in a batch as `pending`: the CLI exits with its own code while any is.
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
    batches submitted now (`submitted`, ids), and the jobs left for the runner (`to_run`)."""

    outcomes: list[Outcome] = field(default_factory=list)
    pending: list[Job] = field(default_factory=list)
    submitted: list[str] = field(default_factory=list)
    to_run: list[Job] = field(default_factory=list)


def run_batched(backend, jobs: list[Job], store: ObjectStore, *, remote: RemoteCache | None = None,
                on_event: Callable[[BuildEvent], None] = lambda e: None) -> BatchRun:
    if not hasattr(backend, "batches"):
        raise BuildError(f"the {backend.name} backend has no batch mode: --batch is for the openai backend")
    batches = backend.batches(store.root)
    by_key = {job.key: job for job in jobs}
    run = BatchRun()
    for outcome in _collect(backend, batches, by_key, store, remote):
        run.outcomes.append(outcome)
        on_event(ended(outcome))
    answered = {o.job.key for o in run.outcomes}
    waiting = batches.pending_keys()
    batchable = [j for j in jobs if j.key not in answered and backend.batchable(j)]
    run.pending = [j for j in batchable if j.key in waiting]
    lines = []
    for job in (j for j in batchable if j.key not in waiting):
        try:
            lines.append((job.key, job.id, backend.batch_line(job, batches)))
        except BackendError as e:  # an input the model's limits refuse: that variant fails, the others go
            outcome = Outcome(job, False, error=str(e), traceback=traceback.format_exc())
            run.outcomes.append(outcome)
            on_event(ended(outcome))
    submitted = batches.submit(lines)
    run.submitted = [b.id for b in submitted]
    run.pending += [by_key[key] for b in submitted for key in b.jobs]
    run.to_run = [j for j in jobs if j.key not in answered and not backend.batchable(j)]
    logger.info("batch: %d collected, %d pending, %d submitted in %d batches, %d made directly",
                len(run.outcomes), len(run.pending), len(lines), len(submitted), len(run.to_run))
    return run


def _collect(backend, batches, by_key: dict[str, Job], store: ObjectStore, remote: RemoteCache | None):
    for batch in batches.submitted():
        batch = batches.poll(batch)
        if batch.status not in ("completed", "expired", "cancelled", "failed"):
            logger.info("batch %s: %s (%s)", batch.id, batch.status, batch.counts)
            continue
        for found in batches.collect(batch):
            job = by_key.get(found.key)
            if job is None:
                logger.info("batch %s: a result for %s, which this build does not make: dropped",
                            batch.id, batch.jobs.get(found.key, found.key))
                continue
            yield _outcome(backend, job, found, store, remote)


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
