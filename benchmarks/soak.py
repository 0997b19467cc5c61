"""The long soak of the hostile-input and fault suite: many more examples than the default test run.

    python benchmarks/soak.py                       # ~8,600 generated catalogs, ~140 kills, ~10 minutes on 2 cores
    python benchmarks/soak.py --examples 500 --kills 10        # a quicker pass
    python benchmarks/soak.py --deterministic       # the same examples as last time, not new ones

It runs tests/test_hostile_catalog.py, test_hostile_images.py and test_faults.py with the counts
raised (MOCKUPS_FUZZ_EXAMPLES, MOCKUPS_KILL_POINTS) and the `soak` tests included (mutated catalogs
that validate are also built; a build is killed in the middle of every one of its writes; the full
disk is simulated at every write of a local-compositor build), then prints what was tried. The exit
code is pytest's. By default Hypothesis explores new examples on each run; a failure prints how to
reproduce it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODULES = ["tests/test_hostile_catalog.py", "tests/test_hostile_images.py", "tests/test_faults.py"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=2500, help="Hypothesis examples per catalog fuzz test")
    ap.add_argument("--kills", type=int, default=60,
                    help="projects killed at random moments and resumed (every third one killed twice in a row); "
                         "20 or more also kills a build in the middle of each of its writes")
    ap.add_argument("--deterministic", action="store_true", help="derandomized Hypothesis, as in CI")
    ap.add_argument("pytest_args", nargs="*", help="extra pytest arguments after --, e.g. -- -x -k fuzz")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        counts_file = Path(tmp) / "counts.jsonl"
        env = dict(os.environ, MOCKUPS_FUZZ_EXAMPLES=str(args.examples), MOCKUPS_KILL_POINTS=str(args.kills),
                   MOCKUPS_COUNTS=str(counts_file))
        if not args.deterministic:
            env["MOCKUPS_FUZZ_RANDOM"] = "1"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "soak or not soak",
               "-o", "addopts=", *MODULES, *args.pytest_args]
        print("$", " ".join(cmd), flush=True)
        started = time.monotonic()
        code = subprocess.run(cmd, cwd=REPO, env=env).returncode
        seconds = time.monotonic() - started
        totals: Counter = Counter()
        if counts_file.exists():
            for line in counts_file.read_text().splitlines():
                totals.update(json.loads(line))
    print()
    print(f"soak finished in {seconds / 60:.1f} min, pytest exit code {code}")
    for kind in ("generated catalogs", "generated catalogs built", "kill points", "kills mid-build",
                 "disk-full faults"):
        print(f"  {kind:<26} {totals.get(kind, 0):>8,}")
    print("  every one checked: no traceback, nothing torn, nothing repeated, nothing leaked"
          if code == 0 else "  some tests failed: see above (tests that pin a known bug fail until it is fixed)")
    return code


if __name__ == "__main__":
    sys.exit(main())
