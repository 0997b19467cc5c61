"""`mockups batch status|cancel`: the OpenAI batches that `build --batch` submitted, read from the
cache folder's records and asked of the API (part of the command-line layer)."""

from __future__ import annotations

import sys
import time

from mockups.cli._output import FAILED, OK
from mockups.engine.pipeline import BuildOptions, folders, make_backend


def cmd_batch(args) -> int:
    from mockups.catalog import load_catalog

    catalog = load_catalog(args.catalog)
    _, cache_dir = folders(catalog, BuildOptions(build_dir=args.build_dir, cache_dir=args.cache_dir))
    backend = make_backend(catalog, "openai", cache_dir)
    try:
        batches = backend.batches(cache_dir)  # type: ignore[attr-defined]  # the openai backend's
        found = batches.submitted()
        if args.batch_command == "cancel" and args.id:
            unknown = sorted(set(args.id) - {b.id for b in found})
            if unknown:
                print(f"mockups: error: no such batch of this project: {', '.join(unknown)}", file=sys.stderr)
                return FAILED
            found = [b for b in found if b.id in args.id]
        if not found:
            print("no batches pending")
            return OK
        for batch in found:
            batch = batches.poll(batch)
            if args.batch_command == "cancel" and batch.status in ("validating", "in_progress", "finalizing"):
                batch = batches.cancel(batch)
            print(_line(batch))
        return OK
    finally:
        backend.close()


def _line(batch) -> str:
    c = batch.counts or {}
    done = f"{c.get('completed', 0)} done, {c.get('failed', 0)} failed of {c.get('total', len(batch.jobs))}"
    hours = (time.time() - batch.created) / 3600
    why = f": {batch.errors}" if batch.errors else ""
    return f"{batch.id}: {batch.status} ({done}; {len(batch.jobs)} variants; submitted {hours:.1f} h ago){why}"
