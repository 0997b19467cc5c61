"""The clock-ahead pass of `.ci/run` (tests/timetravel) really moves the clock: in the process that
runs the tests (a pytest-xdist worker, under `-n auto`) and in the processes it starts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

WHEN = os.environ.get("MOCKUPS_FAKE_NOW")


@pytest.mark.skipif(not WHEN, reason="only in the clock-ahead pass (MOCKUPS_FAKE_NOW)")
def test_the_clock_is_where_the_pass_put_it():
    assert WHEN is not None
    wanted = datetime.fromisoformat(WHEN.replace("Z", "+00:00"))
    assert abs(datetime.now(timezone.utc) - wanted).days < 1
    assert abs(time.time() - wanted.timestamp()) < 86400
    child = subprocess.run([sys.executable, "-c", "import time; print(time.time())"],
                           capture_output=True, text=True, check=True)
    assert abs(float(child.stdout) - wanted.timestamp()) < 86400
