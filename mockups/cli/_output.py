"""Exit codes and machine-readable output, shared by the argument parser and the commands."""

from __future__ import annotations

import json
import sys

OK, FAILED, INVALID, INTERRUPTED = 0, 1, 2, 130


def print_json(data) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
