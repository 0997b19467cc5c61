"""The CLI's commands (part of the command-line layer: the only other module that prints)."""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

from mockups.cli import _output
from mockups.cli._args import build_options
from mockups.cli._batch import cmd_batch  # noqa: F401
from mockups.cli._output import FAILED, OK, PENDING, print_json
from mockups.cli._review import check_approvals, cmd_approve, cmd_publish, cmd_reject, cmd_serve, reviews  # noqa: F401
from mockups.engine import manifest
from mockups.engine.events import BuildEvent, JobEnded, JobFailed, JobFinished, JobRetrying
from mockups.engine.pipeline import BuildOptions, BuildReport, build, output_warnings, prepare
from mockups.errors import MockupsError
from mockups.matrix import Selection, Shard


def cmd_import(args) -> int:
    from mockups.cli._stores import cmd_import as run  # imported when used: it needs httpx

    return run(args)


def cmd_export(args) -> int:
    from mockups.cli._stores import cmd_export as run

    return run(args)


def _warn(problems) -> None:
    for p in problems:
        print(str(p), file=sys.stderr)


def _warn_outputs(warnings) -> None:
    """The outputs' warnings (BuildWarning): each once, with its file and how many variants it affects."""
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)


def cmd_validate(args) -> int:
    prepared = prepare(args.catalog, BuildOptions(backend=args.backend))
    _warn(prepared.warnings)
    _warn_outputs(output_warnings(prepared))  # of the outputs the last build made
    c = prepared.catalog.model
    print(f"{prepared.catalog.file.name}: ok: {len(c.products)} products, {len(c.colours)} colours, "
          f"{len(c.backgrounds)} backgrounds, {len(c.channels)} channels -> {len(prepared.variants)} variants")
    return OK


def cmd_plan(args) -> int:
    prepared = prepare(args.catalog, build_options(args, force=args.force, batch=args.batch))
    plan = prepared.plan
    warnings = output_warnings(prepared)  # of the outputs already made: new ones are known once built
    states, _ = reviews(prepared)
    if args.json:
        found = [{"file": w.file, "message": w.message, "variants": list(w.variants)} for w in warnings]
        data = plan.to_json()
        for v in data["variants"]:
            r = states[v["id"]]
            v["review"] = {"state": r.state, "change": r.change, "reasons": list(r.reasons)}
        print_json({**data, "warnings": found})
        return OK
    _warn(prepared.warnings)
    _warn_outputs(warnings)
    width = max((len(i.job.id) for i in plan.items), default=10)
    for item in plan.items:
        why = f"  ({', '.join(item.reasons)})" if item.reasons else ""
        cost = f"  ${item.estimate:.3f}" if item.estimate else ""
        print(f"{item.status:<9} {item.job.id:<{width}}  {states[item.job.id].label:<17}{cost}{why}")
    for vid in plan.removed:
        print(f"{'removed':<9} {vid}")
    print(_counts_line(plan.counts(), len(plan.items)))
    review = Counter(r.label for r in states.values())
    print("review: " + ", ".join(f"{n} {label}" for label, n in sorted(review.items())))
    print(f"backend {prepared.backend.name}: {len(plan.stale)} to make, estimated cost ${plan.estimated_cost:.2f}")
    for note in prepared.backend.plan_notes([i.job for i in plan.stale]):
        print(note)
    return OK


def _counts_line(counts: dict, total: int) -> str:
    parts = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    return f"{total} variants: {parts or 'none'}"


class Progress:
    """A live bar on a terminal. Otherwise (a CI log) a line for the first variant, then one every
    `every` seconds or every `share` of the build, whichever comes first, and one for the last,
    each with the count, the rate and the time left; every failure and retry on its own line.
    A 10,000-variant build logs a few dozen lines, not 10,000. The rate is counted from the first
    variant's end, so the start-up (workers, the first product's preparation) does not make the
    first estimates absurd, and over at least `window` seconds, so that a chunk of results that
    arrive together does not either; the first line says how long the first variant took instead
    (from the start of the build's run: the lock, the cache, the workers' start, the first product).
    `clock` is injected for tests."""

    def __init__(self, total: int, *, tty: bool | None = None, every: float = 5.0, share: float = 0.1,
                 window: float = 1.0, clock=time.monotonic, out=None):
        self.total, self.done, self.made, self.failed = total, 0, 0, 0
        self.clock, self.every, self.share, self.window = clock, every, share, window
        self.out = out if out is not None else sys.stderr
        self.start = self.last = clock()
        self.first: float | None = None  # when the first variant ended
        self.next_count = 1  # the first variant is always logged
        self.bar = None
        if total and (self.out.isatty() if tty is None else tty):
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="variant", dynamic_ncols=True, file=self.out)

    def __call__(self, event: BuildEvent) -> None:
        if isinstance(event, JobRetrying):
            self._line(f"retrying {event.job.id} (attempt {event.attempt}): {event.reason}")
            return
        if not isinstance(event, JobEnded):
            return
        self.done += 1
        outcome, failed = event.outcome, isinstance(event, JobFailed)
        self.made += isinstance(event, JobFinished)
        self.failed += failed
        if self.bar is not None:
            self.bar.update(1)
            if failed:
                self.bar.write(f"failed {outcome.job.id}: {outcome.error}", file=self.out)
            return
        now = self.clock()
        if failed:
            self._line(f"failed {outcome.job.id}: {outcome.error}")
        if self.first is None:
            self.first = now
        if self.done >= self.next_count or now - self.last >= self.every or self.done == self.total:
            if self.done == 1:
                pace = f"the first after {now - self.start:.1f} s"
            else:
                rate = (self.done - 1) / max(self.window, now - self.first, 1e-9)
                pace = f"{rate:.1f}/s, eta {(self.total - self.done) / rate:.0f}s"
            failures = f", {self.failed} failed" if self.failed else ""
            self._line(f"[{self.done}/{self.total}] {100 * self.done / max(self.total, 1):.0f}%: {self.made} done"
                       f"{failures}, last {outcome.job.id} ({pace})")
            self.last = now
            step = max(1, round(self.share * self.total))
            self.next_count = (self.done // step + 1) * step

    def _line(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=self.out)
        else:
            print(text, file=self.out, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_build(args) -> int:
    options = build_options(args, force=args.force, jobs=args.jobs, fail_fast=args.fail_fast,
                       max_cost=args.max_cost, retries=args.retries, requests_per_minute=args.rpm,
                       gallery=not args.no_gallery, inspect=not args.no_inspect, executor=args.executor,
                       scheduler=args.scheduler, batch=args.batch)
    if args.check:
        return _check(args, options)
    first = prepare(args.catalog, options)  # validate early and size the progress bar
    _warn(first.warnings)
    progress = Progress(len(first.plan.stale))
    try:
        report = build(args.catalog, options, on_event=progress, prepared=first)
    finally:
        progress.close()
    print(summary_line(report))
    _warn_outputs(report.warnings)  # also those of outputs from the cache or unchanged: still outstanding
    for text in report.notices:
        print(f"warning: {text}", file=sys.stderr)
    if report.stop_reason:
        print(f"stopped early: {report.stop_reason}", file=sys.stderr)
    if report.pending and args.batch:
        ids = ", ".join(report.batches) if report.batches else "submitted before"
        print(f"{len(report.pending)} variants are in OpenAI batches ({ids}): run the same command again later "
              f"to collect them (`mockups batch status` shows progress)")
    if args.summary:
        Path(args.summary).write_text(markdown_summary(report))
    if report.failures or report.skipped:
        return FAILED
    return PENDING if report.pending else OK


def _check(args, options: BuildOptions) -> int:
    prepared = prepare(args.catalog, options)
    plan = prepared.plan
    stale = [i for i in plan.items if i.status != "unchanged"]
    for item in stale:
        why = ", ".join(item.reasons) or item.status
        print(f"out of date: {item.job.variant.output} ({item.status}: {why})")
    for vid in plan.removed:
        print(f"removed from the catalog: {vid}")
    if args.summary:
        Path(args.summary).write_text(_check_markdown(plan))
    if stale or plan.removed:
        print(f"{len(stale) + len(plan.removed)} of {len(plan.items)} outputs are out of date; run `mockups build`")
        return FAILED
    print(f"all {len(plan.items)} outputs are up to date")
    if args.approvals:
        lines = check_approvals(prepared)
        if lines:
            for line in lines:
                print(line)
            pending = sum(1 for line in lines if line.startswith("  "))
            print(f"{pending} of {len(plan.items)} outputs are not approved; review them in the gallery, then "
                  f"`mockups approve` (or `mockups approve --from FILE` with the gallery's export)")
            if args.summary:  # the pending list, for the job summary
                with open(args.summary, "a") as f:
                    f.write(f"\n### Review: {pending} of {len(plan.items)} not approved\n\n")
                    f.writelines(f"- `{line.strip()}`\n" if line.startswith("  ") else f"\n{line}\n\n"
                                 for line in lines[:1000])
            return FAILED
        print(f"all {len(plan.items)} outputs are approved")
    return OK


def summary_line(report: BuildReport) -> str:
    return _output.report_line(report)


def markdown_summary(report: BuildReport) -> str:
    plan = report.prepared.plan
    changed = [f"`{i.job.id}` ({i.status}{': ' + ', '.join(i.reasons) if i.reasons else ''})"
               for i in plan.items if i.status in ("new", "changed", "cached")]
    return _output.markdown_summary(
        summary_line(report), plan.counts(), changed=changed,
        failed=[f"`{o.job.id}`: {o.error}" for o in report.failures], removed=[f"`{vid}`" for vid in plan.removed],
        output_warnings=[(_output.warning_cell(w.file, w.message), w.count) for w in report.warnings],
        warnings=[str(p) for p in report.prepared.warnings] + report.notices)


def _check_markdown(plan) -> str:
    """What the console says, for the job summary: the outputs out of date and those the catalog no
    longer makes (both fail the check)."""
    stale = [i for i in plan.items if i.status != "unchanged"]
    return _output.check_markdown([f"`{i.job.variant.output}` ({i.status})" for i in stale]
                                  + [f"`{vid}` (removed from the catalog)" for vid in plan.removed], len(plan.items))


def cmd_gallery(args) -> int:
    from mockups.catalog import load_catalog
    from mockups.engine.cache import ObjectStore
    from mockups.engine.pipeline import folders
    from mockups.review.gallery import write_gallery

    catalog = load_catalog(args.catalog)  # the gallery needs the catalog and the manifest, not a plan
    build_dir, cache_dir = folders(catalog, BuildOptions(build_dir=args.build_dir, cache_dir=args.cache_dir))
    path = write_gallery(build_dir, catalog, store=ObjectStore(cache_dir))
    print(f"gallery: {path}")
    return OK


def _inspect_psds(catalog, products) -> int:
    """A line per smart object of each PSD product's template; the number of templates that failed."""
    psds = [p for p in products if p.psd is not None]
    if not psds:
        return 0
    from mockups.backends.psd import PsdError, inspect_psd, stack_score

    failed = 0
    for product in psds:
        try:
            rows = inspect_psd(catalog.path(product.psd.file))
            stack = stack_score(catalog.path(product.psd.file))
        except PsdError as e:
            print(f"failed {product.sku}: {e}", file=sys.stderr)
            failed += 1
            continue
        for row in rows:
            print(f"{product.sku}  {row}")
            if row.score is not None and not row.score.ok:
                print(f"warning: {product.sku}: {row.file}: smart object '{row.layer}' scores {row.score}, below the "
                      f"calibration gate", file=sys.stderr)
        merged = "no merged image saved" if stack is None else f"{stack:.1f} dB"
        print(f"{product.sku}  {Path(product.psd.file).name}: layer stack (psd-tools) against Photoshop's merged "
              f"image: {merged}")
    return failed


def cmd_inspect(args) -> int:
    """A line per product (what was found in its photo, and where its overlay is), warnings on stderr."""
    from mockups.backends.kept import FOLDER as ANALYSES
    from mockups.catalog import load_catalog
    from mockups.engine.cache import StatCache
    from mockups.engine.pipeline import folders
    from mockups.matrix import expand, select_checked
    from mockups.review.inspect import FOLDER, inspect_products

    catalog = load_catalog(args.catalog)
    _warn(catalog.warnings)
    only, shard = Selection.parse(args.only), Shard.parse(args.shard)
    products = list(catalog.model.products)
    if only or shard:  # the products of the selected variants (FilterError if it selects nothing)
        chosen = {v.product.sku for v in select_checked(expand(catalog), only, shard)}
        products = [p for p in products if p.sku in chosen]
    build_dir, cache_dir = folders(catalog, BuildOptions(build_dir=args.build_dir, cache_dir=args.cache_dir))
    stat = StatCache(cache_dir / "stat.json")
    found = inspect_products(catalog, products, folder=Path(args.out) if args.out else build_dir / FOLDER,
                             hash_file=stat.hash, force=args.force, analyses=cache_dir / ANALYSES)
    stat.save()
    rows = [(f.sku, f.photo, f.kind_text, f.found_text, f.print_area_text) for f in found if f.ok]
    widths = [max((len(r[i]) for r in rows), default=0) for i in range(4)]
    for f in found:
        if not f.ok:
            print(f"failed {f.sku}: {f.error}", file=sys.stderr)
            continue
        cells = (f.sku, f.photo, f.kind_text, f.found_text)
        aligned = "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))
        print(f"{aligned}  {f.print_area_text}  -> {_output.shown(f.overlay)}")
        for w in f.warnings:
            print(f"warning: {f.sku}: {w}", file=sys.stderr)
    written = sum(1 for f in found if f.written)
    failed = sum(1 for f in found if not f.ok)
    print(f"{len(found)} product{'s' if len(found) != 1 else ''}: {written} overlay{'s' if written != 1 else ''} "
          f"drawn, {len(found) - written - failed} up to date" + (f", {failed} failed" if failed else ""))
    failed += _inspect_psds(catalog, products)
    return FAILED if failed else OK


def cmd_clean(args) -> int:
    from mockups.engine.pipeline import project_lock

    prepared = prepare(args.catalog, BuildOptions(build_dir=args.build_dir, cache_dir=args.cache_dir))
    with project_lock(prepared.store.root):  # a build's objects are in the cache before its manifest names them
        return _clean(args, prepared)


def _clean(args, prepared) -> int:
    used = {e.get("key") for e in manifest.load(prepared.build_dir).values()}
    unused = sorted(prepared.store.keys() - used)
    freed = 0
    for key in unused:
        if not args.dry_run:
            freed += prepared.store.remove(key)
    from mockups.backends.kept import unused as unused_kept

    photos = {job.inputs["product"][1] for job in prepared.jobs if "product" in job.inputs}
    analyses = unused_kept(prepared.store.root, photos)
    for path in analyses:
        if not args.dry_run:
            freed += path.stat().st_size
            path.unlink(missing_ok=True)
    verb = "would delete" if args.dry_run else "deleted"
    also = f" and {len(analyses)} kept photo preparation{'s' if len(analyses) != 1 else ''}" if analyses else ""
    print(f"{verb} {len(unused)} unused cache objects{also}" + (f" ({freed / 1e6:.1f} MB)" if freed else ""))
    return OK


def cmd_schema(args) -> int:
    from mockups.catalog.schema import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return OK


def cmd_init(args) -> int:
    from mockups.starter import write_starter

    written = write_starter(Path(args.folder))
    print(f"wrote {len(written)} files into {os.path.abspath(args.folder)}; next: cd there and run `mockups build`")
    return OK


__all__ = ["MockupsError"]
