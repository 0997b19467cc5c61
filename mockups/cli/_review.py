"""The review commands: `approve`, `reject`, `publish`, and the review states that `plan` and
`build --check --approvals` show (part of the command-line layer: it prints)."""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from mockups.cli._args import build_options
from mockups.cli._output import FAILED, INVALID, OK, report_line, shown
from mockups.engine import manifest
from mockups.engine.cache import atomic_write
from mockups.engine.pipeline import Prepared, prepare
from mockups.engine.plan import ItemStatus
from mockups.review import approvals
from mockups.review.approvals import Review

CLOCK = {"now": lambda: datetime.now(timezone.utc)}  # tests set the clock here


def current(prepared: Prepared) -> dict[str, dict | None]:
    """Each selected variant's current output (its manifest entry), or None when it is not built
    as the catalog now stands; an unbuilt one carries its current `parts` (to say what changed)."""
    out: dict[str, dict | None] = {}
    for item in prepared.plan.items:
        if item.status == ItemStatus.UNCHANGED:
            out[item.job.id] = prepared.plan.previous[item.job.id]
        else:
            out[item.job.id] = {"id": item.job.id, "status": "not built", "parts": manifest.parts(item.job)}
    return out


def reviews(prepared: Prepared) -> tuple[dict[str, Review], dict[str, dict | None]]:
    decisions = approvals.load(approvals.path_for(prepared.catalog.file))
    entries = current(prepared)
    return {vid: approvals.review(vid, e, decisions.get(vid)) for vid, e in entries.items()}, entries


def _built(entry: dict | None) -> bool:
    return bool(entry) and entry.get("status") == "ok"  # type: ignore[union-attr]


def cmd_approve(args) -> int:
    prepared = prepare(args.catalog, build_options(args))
    path = approvals.path_for(prepared.catalog.file)
    states, entries = reviews(prepared)
    if args.from_file:
        return _merge(args, prepared, path, entries)
    if args.only:  # what was selected, whatever its state
        chosen = list(states)
    else:  # every pending one
        chosen = [vid for vid, r in states.items() if r.state == "pending"]
    built = [entries[vid] for vid in chosen if _built(entries[vid])]
    unbuilt = [vid for vid in chosen if not _built(entries[vid])]
    who = approvals.reviewer(prepared.catalog.root, args.by)
    changed = approvals.update(path, lambda decisions: _written(approvals.decide(
        decisions, built, "approved", by=who, note=args.note, now=CLOCK["now"])))  # type: ignore[arg-type]
    if changed:
        _redraw_gallery(prepared)
    already = len(built) - len(changed)
    print(f"approved {len(changed)} variant{'s' if len(changed) != 1 else ''}"
          + (f" ({already} already approved)" if already else "") + f" as {who} in {shown(path)}")
    _not_built(unbuilt)
    if not chosen:
        print("nothing is pending review")
    return OK


def _written(decided: tuple[dict, list[str]]) -> tuple[dict | None, list[str]]:
    """`approvals.decide`'s result for `approvals.update`: the decisions to write when any changed."""
    decisions, changed = decided
    return (decisions if changed else None), changed


def _merge(args, prepared: Prepared, path: Path, entries: dict[str, dict | None]) -> int:
    """`approve --from FILE`: the decisions a gallery exported, for the outputs still current."""
    who = approvals.reviewer(prepared.catalog.root, args.by)
    items = approvals.exported(Path(args.from_file))

    def merged(decisions: dict) -> tuple[dict | None, approvals.Merged]:
        done = approvals.merge(decisions, entries, items, by=who, note=args.note, now=CLOCK["now"])
        return (done.decisions if done.applied else None), done

    done = approvals.update(path, merged)
    if done.applied:
        _redraw_gallery(prepared)
    print(f"merged {done.applied} decision{'s' if done.applied != 1 else ''} from {args.from_file} into "
          f"{shown(path)}")
    for vid in done.stale:
        print(f"not merged: {vid}: its output changed since it was reviewed; review it again", file=sys.stderr)
    for vid in done.unknown:
        print(f"not merged: {vid}: no such variant is selected in the catalog", file=sys.stderr)
    return FAILED if done.stale or done.unknown else OK


def cmd_reject(args) -> int:
    if not args.only or not args.note:
        print("mockups: error: reject needs --only (which variants) and --note (why)", file=sys.stderr)
        return INVALID
    prepared = prepare(args.catalog, build_options(args))
    path = approvals.path_for(prepared.catalog.file)
    _, entries = reviews(prepared)
    built = [e for e in entries.values() if _built(e)]
    who = approvals.reviewer(prepared.catalog.root, args.by)
    changed = approvals.update(path, lambda decisions: _written(approvals.decide(
        decisions, built, "rejected", by=who, note=args.note, now=CLOCK["now"])))  # type: ignore[arg-type]
    if changed:
        _redraw_gallery(prepared)
    print(f"rejected {len(changed)} variant{'s' if len(changed) != 1 else ''} as {who} in {shown(path)}")
    _not_built([vid for vid, e in entries.items() if not _built(e)])
    return OK


def _redraw_gallery(prepared: Prepared) -> None:
    """The gallery shows review states: drawn again after a decision, when there is one."""
    if (prepared.build_dir / "gallery" / "index.html").exists():
        from mockups.review.gallery import write_gallery

        write_gallery(prepared.build_dir, prepared.catalog, store=prepared.store)


def _not_built(ids: list[str]) -> None:
    if ids:
        print(f"{len(ids)} selected variant{'s are' if len(ids) != 1 else ' is'} not built as the catalog now "
              f"stands, so there is nothing to decide: run `mockups build` first ({_listed(ids)})", file=sys.stderr)


def check_approvals(prepared: Prepared) -> list[str]:
    """Lines for `build --check --approvals`: the variants whose current output is not approved,
    grouped by what changed since their decision; [] when every one is approved."""
    states, entries = reviews(prepared)
    groups: dict[tuple, list[Review]] = {}
    for vid, r in states.items():
        if r.state == "approved":
            continue
        key = ("rejected",) if r.state == "rejected" else approvals.group_of(r, entries[vid])
        groups.setdefault(key, []).append(r)
    lines = []
    for key, items in sorted(groups.items(), key=lambda kv: (-len(kv[1]), str(kv[0]))):
        if key[0] == "rejected":
            head = "rejected"
        elif key[0] == "new":
            head = "new, never reviewed"
        else:
            head = "changed since approved: " + ", ".join(name for name, _ in key[1:])
        lines.append(f"{len(items)} {head}:")
        lines += [f"  {r.variant}" + (f"  ({r.decision.note})" if r.state == "rejected" and r.decision
                                      and r.decision.note else "") for r in items]
    return lines


def cmd_publish(args) -> int:
    prepared = prepare(args.catalog, build_options(args))
    states, entries = reviews(prepared)
    target = Path(args.to).resolve()
    if target == prepared.build_dir or target.is_relative_to(prepared.build_dir):
        print(f"mockups: error: --to {args.to} is inside the build folder; publish somewhere else", file=sys.stderr)
        return INVALID
    record = target / "published.json"
    try:
        before = json.loads(record.read_text(encoding="utf-8")).get("variants", {})
        if not isinstance(before, dict):
            raise ValueError("its 'variants' is not a mapping")
    except FileNotFoundError:
        before = {}
    except (OSError, ValueError, AttributeError) as e:  # read as empty, what it published would stay for ever
        print(f"mockups: error: {shown(record)} cannot be read ({getattr(e, 'strerror', None) or e}): it says what "
              "an earlier publish put in the folder, which this one would remove where it is no longer approved. "
              "Restore it, or delete it to publish without removing anything", file=sys.stderr)
        return INVALID
    everything = not (args.only or args.shard)  # else what is published outside the selection stays
    published: dict[str, dict] = {vid: old for vid, old in before.items()
                                  if not everything and vid not in states and isinstance(old, dict)}
    left: dict[str, list[str]] = {"pending": [], "rejected": []}
    for vid, r in states.items():
        entry = entries[vid]
        if r.state != "approved" or not _built(entry):
            left["rejected" if r.state == "rejected" else "pending"].append(vid)
            continue
        copy = inside(target, entry["output"])  # type: ignore[index]
        data = (prepared.build_dir / entry["output"]).read_bytes()  # type: ignore[index]
        if copy is None or hashlib.sha256(data).hexdigest() != r.decision.sha256:  # type: ignore[union-attr]
            left["pending"].append(vid)  # changed since it was checked
            continue
        # a copy of its own, not a link: the published bytes stay the approved ones whatever
        # happens to build/ (an image edited there in place) or to the cache
        if not copy.exists() or hashlib.sha256(copy.read_bytes()).hexdigest() != r.decision.sha256:  # type: ignore[union-attr]
            copy.unlink(missing_ok=True)  # a hard link an earlier publish made is not written through
            atomic_write(copy, data, durable=False)  # its record (published.json, written last) says what it must hold
        d = r.decision
        published[vid] = {"output": entry["output"], "sha256": entry["sha256"],  # type: ignore[index]
                          "approved_by": d.by if d else None, "approved_at": d.at if d else None}
    for vid, old in before.items():  # what was published before and is not now: gone from the folder
        if vid not in published and isinstance(old, dict) and isinstance(old.get("output"), str):
            gone = inside(target, old["output"])
            if gone is not None:
                gone.unlink(missing_ok=True)
    at = approvals.utc_stamp(CLOCK["now"]())
    atomic_write(record, (json.dumps({"version": 1, "catalog": prepared.catalog.file.name, "published_at": at,
                                      "variants": published}, indent=2, sort_keys=True) + "\n").encode())
    print(f"published {len(published)} approved variant{'s' if len(published) != 1 else ''} to {shown(target)}")
    for state, ids in left.items():
        if ids:
            print(f"left out {len(ids)} {state}: {_listed(ids)}")
    return OK


def inside(folder: Path, relative: str) -> Path | None:
    """`folder / relative` when that stays inside `folder` (a path read from a file that may have
    been edited: "../x" or an absolute path names nothing of ours), else None."""
    root = folder.resolve()
    path = (root / relative).resolve()
    return path if path != root and path.is_relative_to(root) else None


def _listed(ids: list[str], most: int = 10) -> str:
    return ", ".join(ids[:most]) + (f" and {len(ids) - most} more" if len(ids) > most else "")


def cmd_serve(args) -> int:
    """The gallery on http://127.0.0.1:PORT, rebuilt as the project changes; decisions written to approvals.yaml."""
    import time as _time

    from mockups.catalog import load_catalog
    from mockups.engine.cache import ObjectStore
    from mockups.engine.pipeline import build, folders
    from mockups.review.gallery import write_gallery
    from mockups.review.serve import Server

    options = build_options(args, gallery=True)

    def rebuild() -> str:
        return report_line(build(args.catalog, options))

    first = rebuild()  # the page shows the project as it is now
    catalog = load_catalog(args.catalog)
    build_dir, cache_dir = folders(catalog, options)

    def regallery() -> None:
        write_gallery(build_dir, load_catalog(args.catalog), store=ObjectStore(cache_dir))

    server = Server(catalog.file, build_dir, rebuild=rebuild, write_gallery=regallery, host=args.host,
                    port=args.port, reviewer=args.by)
    server.start()
    print(first)
    print(f"serving {server.url} (Ctrl-C to stop): rebuilds when the catalog, a template or an asset changes; "
          f"decisions are written to {shown(approvals.path_for(catalog.file))}", flush=True)
    try:
        while True:  # short sleeps: Ctrl-C may reach another of the threads, and Python raises it in
            _time.sleep(0.5)  # this one only when this one runs again
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.stop()
    return OK
