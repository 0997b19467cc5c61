"""Backends for tests: real Backend subclasses that record, sleep, fail or flake on demand.

They are loaded by import path (`--backend tests.backends_for_tests:Recording`), so they work in
a subprocess too. Calls are appended to the file named by MOCKUPS_TEST_LOG (one line per call).
"""

from __future__ import annotations

import os
import time

from PIL import Image

from mockups.backends.base import Backend, Rendered
from mockups.errors import BackendError, TransientBackendError


def log_call(job_id: str) -> None:
    path = os.environ.get("MOCKUPS_TEST_LOG")
    if path:
        with open(path, "a") as f:
            f.write(job_id + "\n")


def calls(path) -> list[str]:
    try:
        return open(path).read().split()
    except FileNotFoundError:
        return []


class Recording(Backend):
    """A flat image of the variant's colour; every call logged."""

    name = "recording"
    version = "1"
    parallelism = "thread"

    def default_concurrency(self) -> int:
        return 4

    def job_params(self, catalog, variant):
        return {"gain": float(os.environ.get("MOCKUPS_TEST_GAIN", "1"))}

    def estimate(self, job) -> float:
        return float(os.environ.get("MOCKUPS_TEST_PRICE", "0"))

    def render(self, job) -> Rendered:
        log_call(job.id)
        delay = float(os.environ.get("MOCKUPS_TEST_DELAY", "0"))
        if delay:
            time.sleep(delay)
        fail = os.environ.get("MOCKUPS_TEST_FAIL")
        if fail and fail in job.id:
            raise BackendError(f"refused by the test backend: {job.id}")
        image = Image.new("RGB", job.variant.channel.size, job.variant.colour.hex)
        return Rendered(image=image, model="test-model", cost=self.estimate(job))


class Flaky(Recording):
    """Fails transiently on the first N calls of each job (N from MOCKUPS_TEST_FLAKES)."""

    name = "flaky"

    def render(self, job) -> Rendered:
        seen = calls(os.environ["MOCKUPS_TEST_LOG"]).count(job.id)
        if seen < int(os.environ.get("MOCKUPS_TEST_FLAKES", "1")):
            log_call(job.id)
            raise TransientBackendError("503 from the test backend", retry_after=0.01)
        return super().render(job)


class InProcesses(Recording):
    """The recording backend in worker processes."""

    name = "tests.backends_for_tests:InProcesses"  # a worker process loads the backend by its name
    parallelism = "process"

    def default_concurrency(self) -> int:
        return 2


class Gated(Recording):
    """In worker processes; the first job each worker gets is made at once, every later one waits
    for the file named by MOCKUPS_TEST_GATE to exist, and those whose id contains
    MOCKUPS_TEST_GATE2_FOR also for MOCKUPS_TEST_GATE2 (up to 10 s each, then the job fails)."""

    name = "tests.backends_for_tests:Gated"  # a worker process loads the backend by its name
    parallelism = "process"
    made_here = False  # in this process (a forked worker starts with the class as the parent had it)

    def default_concurrency(self) -> int:
        return 2

    def render(self, job) -> Rendered:
        if not Gated.made_here:
            Gated.made_here = True  # this worker's first job
        else:
            _wait_for(os.environ["MOCKUPS_TEST_GATE"], job.id)
        second = os.environ.get("MOCKUPS_TEST_GATE2_FOR")
        if second and second in job.id:
            _wait_for(os.environ["MOCKUPS_TEST_GATE2"], job.id)
        return super().render(job)


def _wait_for(path: str, job_id: str) -> None:
    waited = 0.0
    while not os.path.exists(path):
        if waited > 10:
            raise BackendError(f"the gate {os.path.basename(path)} never opened for {job_id}")
        time.sleep(0.02)
        waited += 0.02
