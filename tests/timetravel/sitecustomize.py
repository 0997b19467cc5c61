"""Moves the wall clock of every Python process that has this folder on PYTHONPATH.

    MOCKUPS_FAKE_NOW=2028-12-01T12:00:00Z PYTHONPATH=tests/timetravel python -m pytest

`time-machine` moves `datetime`, `date.today()` and `time.time()` (the clock keeps ticking from the
given instant) and leaves the monotonic clock alone, so timeouts and `time.sleep` behave as usual.
PYTHONPATH is inherited, so subprocesses the tests start (the CLI, workers, fake servers) live on
the same moved clock. `.ci/run` runs the suite a second time this way: no test may depend on today.
"""

import os

_when = os.environ.get("MOCKUPS_FAKE_NOW")
if _when:
    import time_machine

    time_machine.travel(_when, tick=True).start()
