"""What a build reports while it runs, and how each variant's job ended.

`build(catalog, on_event=callback)` calls `callback(event)` with one of these frozen dataclasses.
For each stale variant, in this order:

- `JobStarted(job)`: a worker takes the job (with a process backend such as `local`, when the
  group of jobs it belongs to is handed to a worker process).
- `JobRetrying(job, attempt, reason, delay)`, zero or more times (thread backends such as
  `openai`): an attempt failed with a transient error (`reason`), attempt number `attempt`
  (2 for the first retry) starts in `delay` seconds.
- then exactly one `JobEnded` event, carrying the job's `Outcome`:
  - `JobFinished(outcome)`: the output is made (or was already in the cache) and placed in build/;
  - `JobFailed(outcome)`: `outcome.error` says why in one line (`outcome.traceback` has the
    traceback, also in the log); `outcome.fatal` if it stopped the whole build;
  - `JobSkipped(outcome)`: the build stopped (budget, `--fail-fast`, a fatal error, Ctrl-C) after
    a worker took this job but before it ran.

Variants that need no backend (unchanged, or placed from the cache) send no event, nor do jobs no
worker had taken when the build stopped (`BuildReport.skipped` counts them with the skipped ones). Events are
delivered one at a time (never two callbacks at once), from the build's own thread or from a
worker thread: keep the callback quick, and do not raise from it.

Match them by type:

    def on_event(event):
        match event:
            case JobFailed(outcome):
                print("failed", outcome.job.id, outcome.error)
            case JobFinished():
                print("made", event.job.id)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from mockups.jobs import Job

__all__ = ["BuildEvent", "JobEnded", "JobFailed", "JobFinished", "JobRetrying", "JobSkipped", "JobStarted",
           "Outcome", "OutcomeStatus"]


class OutcomeStatus(enum.StrEnum):
    """How a job ended; a `str`, so it compares and serialises as its value ("ok", "failed", "skipped")."""

    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass
class Outcome:
    """How one job ended: made (`ok`), failed (`error`, one line), or skipped (stopped before it started).

    `meta` is the output's cache record when made (model, cost, usage, sha256, warnings); `fatal`
    means the failure stopped the build; `attempts` counts tries (retries included); `traceback` is
    the failure's formatted traceback (captured where it was raised, a worker process included).
    """

    job: Job
    ok: bool
    meta: dict | None = None
    error: str | None = None
    fatal: bool = False
    attempts: int = 1
    skipped: bool = False  # stopped before it started: neither done nor failed
    traceback: str | None = field(default=None, repr=False, compare=False)

    @property
    def status(self) -> OutcomeStatus:
        return OutcomeStatus.OK if self.ok else OutcomeStatus.SKIPPED if self.skipped else OutcomeStatus.FAILED


@dataclass(frozen=True)
class BuildEvent:
    """Base class of every event a build sends to `on_event` (see `mockups.engine.events`)."""


@dataclass(frozen=True)
class JobStarted(BuildEvent):
    """A worker took this job."""

    job: Job


@dataclass(frozen=True)
class JobRetrying(BuildEvent):
    """An attempt failed with a transient error (`reason`); attempt `attempt` starts in `delay` seconds."""

    job: Job
    attempt: int  # the attempt about to start: 2 on the first retry
    reason: str
    delay: float = 0.0


@dataclass(frozen=True)
class JobEnded(BuildEvent):
    """Base class of the three ways a job ends; `outcome` says how, `job` is `outcome.job`."""

    outcome: Outcome

    @property
    def job(self) -> Job:
        return self.outcome.job


@dataclass(frozen=True)
class JobFinished(JobEnded):
    """The job's output was made (or found in the cache) and placed in the build folder."""


@dataclass(frozen=True)
class JobFailed(JobEnded):
    """The job failed: `outcome.error` says why; the other variants go on unless `outcome.fatal`."""


@dataclass(frozen=True)
class JobSkipped(JobEnded):
    """The build stopped (budget, --fail-fast, a fatal error, Ctrl-C) before this job, already taken, ran."""


def ended(outcome: Outcome) -> JobEnded:
    """The event that reports this outcome."""
    return JobFinished(outcome) if outcome.ok else JobSkipped(outcome) if outcome.skipped else JobFailed(outcome)
