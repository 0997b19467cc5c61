"""Build progress in a CI log (no terminal): a few lines with counts, rate and time left, not
one per variant; failures and retries each on their own line. The clock is injected."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

from mockups.cli.commands import Progress
from mockups.engine.events import JobFailed, JobFinished, JobRetrying, Outcome


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def job(i: int):
    return SimpleNamespace(id=f"shop/TEE/colour-{i}--studio")


def run(total: int, step: float, fail: set[int] = frozenset(), **kwargs) -> list[str]:
    clock, out = Clock(), io.StringIO()
    progress = Progress(total, tty=False, clock=clock, out=out, **kwargs)
    for i in range(1, total + 1):
        clock.now += step
        outcome = Outcome(job(i), ok=i not in fail, error="boom" if i in fail else None)
        progress(JobFailed(outcome) if i in fail else JobFinished(outcome))
    progress.close()
    return out.getvalue().splitlines()


def test_a_large_build_logs_every_tenth_not_every_variant():
    lines = run(10_000, 0.0001)  # fast: the count decides
    assert len(lines) == 11  # the first variant, then every 10 %, the last among them
    assert lines[0].startswith("[1/10000] 0%: 1 done, last shop/TEE/colour-1--studio (")
    assert lines[-1].startswith("[10000/10000] 100%: 10000 done")
    assert re.search(r"\(\d+(\.\d)?/s, eta 0s\)$", lines[-1])


def test_a_slow_build_logs_every_few_seconds():
    lines = run(20, 2.0, every=5.0)  # 2 s a variant: a line at least every 5 s
    counts = [int(re.match(r"\[(\d+)/20\]", line)[1]) for line in lines]
    assert counts[0] == 1 and counts[-1] == 20
    assert all(b - a <= 3 for a, b in zip(counts, counts[1:], strict=False))  # at most 5 s (3 variants) apart
    assert len(lines) < 20
    assert "eta" in lines[1] and "(0.5/s" in lines[1]


def test_the_start_up_does_not_make_the_first_estimates_absurd():
    # the first variant ends after 6 s (workers starting, the first product prepared), then 10/s
    clock, out = Clock(), io.StringIO()
    progress = Progress(1000, tty=False, clock=clock, out=out)
    for i in range(1, 1001):
        clock.now += 6.0 if i == 1 else 0.1
        progress(JobFinished(Outcome(job(i), ok=True)))
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("(the first after 6.0 s)") and "eta" not in lines[0]
    for line in lines[1:]:  # the steady 10/s, not 52 in 11.1 s (4.7/s, twice the time left)
        done, eta = re.match(r"\[(\d+)/1000\].*\(10\.0/s, eta (\d+)s\)$", line).groups()
        assert int(eta) == round((1000 - int(done)) / 10), line
    assert lines[-1].endswith("(10.0/s, eta 0s)")


def test_failures_and_retries_get_their_own_lines():
    clock, out = Clock(), io.StringIO()
    progress = Progress(100, tty=False, clock=clock, out=out)
    progress(JobRetrying(job(1), 2, "429 Too Many Requests", 1.5))
    for i in range(1, 101):
        clock.now += 0.001
        outcome = Outcome(job(i), ok=i != 37, error="mask size does not match" if i == 37 else None)
        progress(JobFailed(outcome) if i == 37 else JobFinished(outcome))
    lines = out.getvalue().splitlines()
    assert lines[0] == "retrying shop/TEE/colour-1--studio (attempt 2): 429 Too Many Requests"
    assert "failed shop/TEE/colour-37--studio: mask size does not match" in lines
    assert lines[-1].startswith("[100/100] 100%: 99 done, 1 failed")
    assert len(lines) == 1 + 1 + 11


def test_a_chunk_of_results_that_arrive_together_does_not_make_the_estimate_absurd():
    # the bundled catalog: the first after 5.4 s, then its chunk's other six at the same instant
    clock, out = Clock(), io.StringIO()
    progress = Progress(70, tty=False, clock=clock, out=out)
    for i in range(1, 71):
        clock.now += 5.4 if i == 1 else (0.0 if i <= 7 else 0.08)
        progress(JobFinished(Outcome(job(i), ok=True)))
    lines = out.getvalue().splitlines()
    assert lines[1].startswith("[7/70]")
    rate = float(re.search(r"\((\d+(?:\.\d)?)/s", lines[1])[1])
    assert rate <= 6.0  # six in under the 1 s window: counted over the window, not as 6 in no time
