"""`mockups build` when nothing changed since the last complete build: its report, read from the
build record (`mockups.engine.record`), with nothing planned and nothing heavy imported.

`quick_build` returns the exit code when the record vouches for a no-op, or None: then the full
build runs (and prints exactly what this would have printed, more slowly).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from mockups.cli import _output
from mockups.engine import record


def quick_build(args) -> int | None:
    started = time.monotonic()
    if args.force or (args.check and args.approvals):  # the record knows nothing of reviews
        return None
    key = record.options_key(args.catalog, backend=args.backend, only=args.only, shard=args.shard,
                             build_dir=args.build_dir, cache_dir=args.cache_dir, gallery=not args.no_gallery,
                             inspect=not args.no_inspect, remote_cache=args.cache, cache_read_only=args.cache_read_only)
    found = record.up_to_date(key)
    if found is None:
        return None
    if args.check:
        print(f"all {found.variants} outputs are up to date")
        if args.summary:
            Path(args.summary).write_text(_output.check_markdown([], found.variants))
        return _output.OK
    for text in found.warnings:
        print(text, file=sys.stderr)
    line = _output.summary_line(variants=found.variants, unchanged=found.variants, placed=0, built=0, failed=0,
                                skipped=0, removed=0, seconds=time.monotonic() - started, spent=0.0)
    print(line)
    for w in found.output_warnings:
        print(f"warning: {w['text']}", file=sys.stderr)
    if args.summary:
        Path(args.summary).write_text(_output.markdown_summary(
            line, {"unchanged": found.variants},
            output_warnings=[(_output.warning_cell(w["file"], w["message"]), w["count"])
                             for w in found.output_warnings],
            warnings=list(found.warnings)))
    return _output.OK
