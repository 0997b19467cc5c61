"""The pipeline, top to bottom: load -> expand -> render prompts -> jobs -> plan -> run -> write.

`prepare` is the side-effect-free first half (what `mockups plan` and `build --check` show);
`build` carries it out. Each stage is a named function that can be called and tested alone.

Warnings come in two kinds: the catalog's and the backend's checks' (`Prepared.warnings`, Problems
at a file and line) and those a backend returned with an output (a cut-out of low confidence),
kept with each output in the cache and the manifest. `output_warnings` gathers the latter for the
variants of a plan, each distinct one once with the variants it affects (`BuildReport.warnings`);
before a build it knows those of outputs already made (unchanged or in the cache), not the new ones.

`prepare`, `plan` and `build` take a loaded `Catalog` or the path of its file, an optional
`BuildOptions`, and any of its fields as keywords (`build("catalog.yaml", only="sku=TEE-*")`).
They log to `logging.getLogger("mockups...")` and configure no handler: that is the caller's.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import filelock
import pydantic

from mockups._sandbox import template_files
from mockups.backends.base import Backend, backend_class, get_backend
from mockups.catalog import Catalog, load_catalog, problems_from
from mockups.engine import manifest, planmemo, record
from mockups.engine.batching import pending_in_batches, run_batched
from mockups.engine.cache import JsonMemo, ObjectStore, StatCache, place, remove_temporaries, write_if_changed
from mockups.engine.events import BuildEvent, JobEnded, JobFailed, JobFinished, Outcome
from mockups.engine.plan import ItemStatus, Plan, make_plan, unfetched
from mockups.engine.planmemo import PlanMemo
from mockups.engine.remote import RemoteCache
from mockups.engine.runner import Runner, RunOptions
from mockups.errors import BudgetExceeded, BuildLocked, CatalogError, MemoMismatch, TemplateError, did_you_mean
from mockups.jobs import Job, make_job
from mockups.matrix import PhotoKind, Selection, Shard, Variant, expand, photo_kinds, select_checked
from mockups.prompts import PromptRenderer, TemplateNotFound, builtin_names

logger = logging.getLogger(__name__)

MANIFEST_EVERY = 2.0  # seconds between manifest saves during a build


@dataclass
class BuildOptions:
    """What to build and how; every field has the default the CLI has.

    - `backend`: a backend's name (`local`, `openai`, a plugin's, or `module:Class`); default the
      catalog's `defaults.backend`.
    - `only`: which variants, a `Selection` (or `--only` strings, e.g. `["sku=TEE-*,colour=navy"]`);
      `shard`: a `Shard` (or "K/N"). A selection or shard that selects nothing is a FilterError.
    - `force`: remake every selected variant; `jobs`: workers (default: the backend's choice);
      `fail_fast`: stop at the first failure; `max_cost`: refuse a plan estimated over it, and stop
      starting jobs once it is spent (USD); `retries`: for transient errors;
      `requests_per_minute`: a shared rate limit.
    - `build_dir`, `cache_dir`: default `build/` and `.mockups-cache/` beside the catalog;
      `remote_cache`: the URL of a shared cache behind the local one (`s3://bucket/prefix`,
      `gs://`, `az://`, `file://`, `http(s)://`: see `engine.remote`), `cache_read_only` to only
      read it; `executor`: "processes" (default) or "dask" (the local compositor's work on the
      Dask cluster at `scheduler`, else DASK_SCHEDULER_ADDRESS, else a LocalCluster);
      `batch`: send what the backend can batch to its batch API (openai: half price, within 24 h;
      see `engine.batching`): a build submits, and a later one collects (`report.pending`);
      `gallery`: write the HTML gallery at the end; `inspect`: write each selected product's
      overlay (`build/inspect/<SKU>.png`, what `mockups inspect` draws; redrawn only when its
      inputs change), which the gallery links.
    """

    backend: str | None = None
    only: Selection | list[str] | str | None = None
    shard: Shard | str | None = None
    force: bool = False
    jobs: int | None = None
    fail_fast: bool = False
    max_cost: float | None = None
    retries: int = 3
    requests_per_minute: float | None = None
    build_dir: str | os.PathLike | None = None
    cache_dir: str | os.PathLike | None = None
    remote_cache: str | None = None
    cache_read_only: bool = False
    executor: str = "processes"
    scheduler: str | None = None
    gallery: bool = True
    inspect: bool = True
    batch: bool = False


@dataclass
class Prepared:
    """Everything a build needs, made without side effects by `prepare`: the catalog, the backend,
    every variant (`variants`) and the selected ones' jobs, the plan, the folders and stores, and
    the catalog's and backend's warnings (Problems). Pass it to `build(prepared=...)` to reuse it."""

    catalog: Catalog
    backend: Backend
    variants: list[Variant]
    jobs: list[Job]
    plan: Plan
    build_dir: Path
    store: ObjectStore
    stat: StatCache
    warnings: list = field(default_factory=list)
    photo_kinds: dict[str, PhotoKind] = field(default_factory=dict)  # by SKU: which products are scenes
    memo: JsonMemo | None = None  # the cache folder's photo kinds, saved by a build
    remote: RemoteCache | None = None  # the shared tier behind `store`, if any
    plan_memo: PlanMemo | None = None  # the prompts and keys reused from the last build, saved by a build
    watched: dict[str, str] = field(default_factory=dict)  # the templates' and code's hashes before rendering


@dataclass(frozen=True)
class BuildWarning:
    """One distinct warning recorded with outputs, and the variants whose outputs carry it."""

    message: str
    file: str | None  # the input it is about, relative to the catalog's folder; None if it names none
    variants: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.variants)

    def __str__(self) -> str:
        n = self.count
        return f"{self.file + ': ' if self.file else ''}{self.message} ({n} variant{'s' if n != 1 else ''})"


@dataclass
class BuildReport:
    """What a build did: an `Outcome` per job run (`outcomes`, `failures`), how many outputs were
    `built` and `placed` from the cache, `skipped` (not started), `seconds`, dollars `spent`, why it
    stopped early (`stop_reason`), and the outputs' warnings (`warnings`, BuildWarning)."""

    prepared: Prepared
    outcomes: list[Outcome] = field(default_factory=list)
    placed: int = 0
    seconds: float = 0.0
    spent: float = 0.0
    stop_reason: str | None = None
    interrupted: bool = False
    warnings: list[BuildWarning] = field(default_factory=list)  # of the selected variants' outputs
    fetched: int = 0  # outputs fetched from the remote cache (also counted in `placed`)
    pending: list[Job] = field(default_factory=list)  # jobs in a batch not finished (or not collected) yet
    batches: list[str] = field(default_factory=list)  # --batch: the ids of the batches submitted now
    batch_warnings: list[str] = field(default_factory=list)  # what went wrong with the Batch API (it went on)

    @property
    def cache_warnings(self) -> list[str]:
        """What went wrong with the remote cache (the build went on with the local one)."""
        return list(self.prepared.remote.problems) if self.prepared.remote else []

    @property
    def notices(self) -> list[str]:
        """The remote cache's and the Batch API's warnings: the build went on without them."""
        return self.cache_warnings + self.batch_warnings

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok and not o.skipped]

    @property
    def skipped(self) -> int:
        return (sum(1 for o in self.outcomes if o.skipped) + len(self.prepared.plan.stale) - len(self.outcomes)
                - len(self.pending))

    @property
    def built(self) -> int:
        return sum(1 for o in self.outcomes if o.ok)


def folders(catalog: Catalog, options: BuildOptions) -> tuple[Path, Path]:
    build_dir = Path(options.build_dir) if options.build_dir else catalog.root / "build"
    cache_dir = Path(options.cache_dir) if options.cache_dir else catalog.root / ".mockups-cache"
    return build_dir.resolve(), cache_dir.resolve()


def render_jobs(catalog: Catalog, variants: list[Variant], backend: Backend, stat: StatCache,
                hash_file: Callable[[Path], str] | None = None, memo: PlanMemo | None = None) -> list[Job]:
    """Render every prompt and make every job; a template error is a catalog-level failure. With a
    `memo` (engine.planmemo), the prompts and keys of variants whose inputs did not change since
    the memo's build are reused instead."""
    renderer = PromptRenderer(catalog)
    jobs: list[Job] = []
    errors: dict[str, str] = {}
    hash_file = hash_file or functools.lru_cache(maxsize=None)(stat.hash)  # each input is hashed once per build
    run = memo.run(renderer, hash_file) if memo is not None else None
    for v in variants:
        template = renderer.template_name(v)
        try:
            if run is not None:
                vid = v.id
                prompt, digest = run.prompt(v, vid, template, renderer.render)
            else:
                prompt = renderer.render(v)
        except TemplateNotFound:  # a name the catalog got wrong: reported where it is written
            index = list(catalog.products).index(v.product.sku)
            path = ("products", index, "template") if v.product.template else ("defaults", "template")
            name, folder = renderer.template_name(v), catalog.root / "templates"
            own = sorted(rel for rel, _ in template_files(folder) if rel.endswith(".j2")) if folder.is_dir() else []
            hint = did_you_mean(name, renderer.template_names())
            raise CatalogError([catalog.problem(path, f"template '{name}' not found{hint} (looked in templates/: "
                                                      f"{', '.join(own) or 'none'}; and the built-in templates: "
                                                      f"{', '.join(builtin_names())})")]) from None
        except TemplateError as e:
            errors.setdefault(template, str(e))
            continue
        job = make_job(catalog, v, backend=backend, prompt=prompt, template=template, hash_file=hash_file)
        if run is not None:
            run.keyed(job, vid, digest)
        jobs.append(job)
    if errors:
        raise TemplateError("\n".join(errors.values()))
    if memo is not None:
        logger.debug("%s", memo.summary())
    return jobs


def make_backend(catalog: Catalog, name: str | None, cache_dir: Path,
                 requests_per_minute: float | None = None, batch: bool = False) -> Backend:
    """The backend by name, with its catalog options (defaults.<name>), the cache folder, --rpm
    and --batch (its estimates are at the batch price)."""
    name = name or catalog.model.defaults.backend
    section = getattr(catalog.model.defaults, name, None)
    options = section.model_dump() if section is not None and hasattr(section, "model_dump") \
        else plugin_options(catalog, name)
    extra: dict[str, object] = {"cache_dir": str(cache_dir)}
    if requests_per_minute:
        extra["requests_per_minute"] = requests_per_minute
    if batch:
        extra["batch"] = True
    return get_backend(name, {**options, **extra})


def plugin_options(catalog: Catalog, name: str) -> dict:
    """A plugin's `defaults.<name>` section, validated by the plugin's own `options_model`."""
    raw = catalog.plugin_options.get(name, {})
    model = backend_class(name).options_model
    if model is None:
        return dict(raw)
    try:
        return model.model_validate(raw).model_dump()
    except pydantic.ValidationError as e:
        raise CatalogError(problems_from(catalog.doc, e, ("defaults", name), model)) from None


def _options_of(options: BuildOptions | None, overrides: dict) -> BuildOptions:
    options = options or BuildOptions()
    return dataclasses.replace(options, **overrides) if overrides else options


def prepare(catalog: Catalog | str | os.PathLike, options: BuildOptions | None = None, **overrides) -> Prepared:
    """Load (unless given a Catalog), expand, select, render every prompt, check, and plan: no side
    effects. Raises CatalogError, TemplateError, FilterError (a selection that selects nothing)."""
    options = _options_of(options, overrides)
    if not isinstance(catalog, Catalog):
        catalog = load_catalog(catalog)
    only, shard = Selection.of(options.only), Shard.of(options.shard)
    build_dir, cache_dir = folders(catalog, options)
    stat = StatCache(cache_dir / "stat.json")
    hash_file = functools.lru_cache(maxsize=None)(stat.hash)  # each input is hashed once per build
    memo = JsonMemo(cache_dir / "photo-kinds.json")
    kinds = photo_kinds(catalog, hash_file=hash_file, memo=memo)
    variants = expand(catalog, kinds)
    selected = select_checked(variants, only, shard)  # FilterError if --only or --shard selects nothing
    backend = make_backend(catalog, options.backend, cache_dir, options.requests_per_minute, batch=options.batch)
    plan_memo = PlanMemo(cache_dir / planmemo.NAME)
    watched = {}  # hashed before any prompt is rendered: a build record compares them with the files at its end
    for name in record.watched_files(catalog.root / "templates", type(backend)):
        try:
            watched[name] = hash_file(Path(name))
        except OSError:
            continue
    jobs = render_jobs(catalog, selected, backend, stat, hash_file, plan_memo)
    problems = backend.check(catalog, jobs)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise CatalogError(problems)
    store = ObjectStore(cache_dir)
    remote = RemoteCache(options.remote_cache, options.cache_read_only) if options.remote_cache else None
    plan = make_plan(jobs, build_dir, store, stat, estimate=backend.estimate,
                     all_selected=not (only or shard), force=options.force, remote=remote)
    warnings = sorted(set(catalog.warnings) | set(problems) | set(photo_warnings(catalog, kinds)))
    logger.info("%s: %d variants, %d selected; backend %s; plan: %s", catalog.file.name, len(variants),
                len(selected), backend.name, ", ".join(f"{n} {k}" for k, n in plan.counts().items() if n) or "nothing")
    return Prepared(catalog, backend, variants, jobs, plan, build_dir, store, stat, warnings, kinds, memo, remote,
                    plan_memo, watched)


def photo_warnings(catalog: Catalog, kinds: dict[str, PhotoKind]) -> list:
    """What the catalog should know of its products' photos: a scene keeps its own setting (the
    catalog's backgrounds are not used), a scene needs a print area or a recolour mask to find its
    garment, and `photo: scene` means nothing on a photo with an alpha channel."""
    out = []
    for i, product in enumerate(catalog.model.products):
        kind = kinds.get(product.sku)
        if kind is None or kind.kind == "psd":
            continue
        if kind.scene:
            how = "`photo: scene`" if kind.forced else f"classified so with confidence {kind.confidence:.2f}"
            out.append(catalog.doc.problem(("products", i), f"{product.sku} is a scene photo: its own setting is "
                                           f"kept, the catalog's backgrounds are not used (its variants have the "
                                           f"background 'as-shot'; {how})", severity="warning"))
            if not (product.print_area or product.cylinder or product.placements) and product.recolour_mask is None:
                out.append(catalog.doc.problem(("products", i), f"{product.sku} is a scene photo with neither a "
                                               f"print_area nor a recolour_mask: its garment cannot be found, so "
                                               f"nothing is recoloured; give the product a print_area on the "
                                               f"garment or a recolour_mask:", severity="warning"))
        elif product.photo == "scene" and kind.kind == "alpha":
            out.append(catalog.doc.problem(("products", i, "photo"), f"photo: scene is not used: "
                                           f"{product.image} has an alpha channel, which is its silhouette",
                                           severity="warning"))
    return out


def plan(catalog: Catalog | str | os.PathLike, options: BuildOptions | None = None, **overrides) -> Plan:
    """What a build would do, without doing any of it (`prepare(...).plan`): each selected variant's
    status (new, changed and why, unchanged, cached...), the estimated cost, what would be removed."""
    return prepare(catalog, options, **overrides).plan


def build(catalog: Catalog | str | os.PathLike | None = None, options: BuildOptions | None = None,
          on_event: Callable[[BuildEvent], None] | None = None, prepared: Prepared | None = None,
          **overrides) -> BuildReport:
    """Make every stale variant, place cached ones, write the manifest, contact sheets and gallery.

    `on_event(event)` hears of each job run (`JobStarted`, `JobRetrying`, `JobFinished`, `JobFailed`,
    `JobSkipped`: see `mockups.engine.events`). Pass `prepared` (from `prepare`) to reuse a plan
    already made. A failed variant does not raise: it is in `report.failures`. Raises
    BudgetExceeded, BuildLocked, FatalBackendError, BuildError (disk full), KeyboardInterrupt.
    """
    options = _options_of(options, overrides)
    started = time.monotonic()
    if prepared is None:
        if catalog is None:
            raise TypeError("build() needs a catalog (a Catalog or a path) or prepared=")
        prepared = prepare(catalog, options)
    plan = prepared.plan
    in_batches = pending_in_batches(prepared.backend, prepared.store)  # submitted (and paid for) before
    estimated = _to_pay(plan, in_batches)
    if options.max_cost is not None:
        unpriced = next((why for why in map(prepared.backend.unpriced, (i.job for i in plan.stale)) if why), None)
        if unpriced:
            raise BudgetExceeded(f"--max-cost ${options.max_cost:.2f} cannot be kept: {unpriced}; nothing was "
                                 "started (build without --max-cost, or with a model the table prices)")
        if estimated > options.max_cost:
            raise BudgetExceeded(f"the plan's estimated cost ${estimated:.2f} is over --max-cost "
                                 f"${options.max_cost:.2f}; nothing was started")
    report = BuildReport(prepared)
    with _lock(prepared.store.root):
        running = prepared.store.root / "build.running"  # left by a build that was killed
        if running.exists():
            remove_temporaries(prepared.build_dir, prepared.store.root)
        record.forget(prepared.store.root)  # until this build ends cleanly, nothing is known to be up to date
        running.touch()
        writer = ManifestWriter(prepared)
        report.fetched = fetch_remote(prepared)
        if options.max_cost is not None and prepared.remote is not None:  # what could not be fetched is made
            after = _to_pay(plan, in_batches)
            if after > options.max_cost:
                running.unlink(missing_ok=True)
                raise BudgetExceeded(f"the plan's estimated cost is ${after:.2f} now that some of the shared cache's "
                                     f"outputs could not be fetched (${estimated:.2f} with them), over --max-cost "
                                     f"${options.max_cost:.2f}; nothing was started")
        report.placed = writer.place_cached()
        run_options = _run_options(prepared.backend, options, prepared.remote)
        logger.info("%d to make with backend %s (%d worker%s); %d placed from the cache", len(plan.stale),
                    prepared.backend.name, run_options.concurrency, "s" if run_options.concurrency != 1 else "",
                    report.placed)
        drawing = Drawing(prepared, options, writer)  # each product's sheets and overlay once its variants are made
        recorded = _tee(on_event, writer.record, drawing.hear)
        runner = Runner(prepared.backend, prepared.store, run_options, on_event=recorded, on_started=drawing.go)
        batched: list = []
        try:
            jobs = [i.job for i in plan.stale]
            if options.batch:  # those the backend can batch go to its batch API; the rest are made below
                run = run_batched(prepared.backend, jobs, prepared.store, remote=prepared.remote, on_event=recorded,
                                  all_selected=not (Selection.of(options.only) or Shard.of(options.shard)))
                batched, report.pending, report.batches, jobs = run.outcomes, run.pending, run.submitted, run.to_run
                report.batch_warnings = run.warnings
            elif in_batches:  # not made again at full price while a batch holds them
                report.pending = [j for j in jobs if j.key in in_batches]
                jobs = [j for j in jobs if j.key not in in_batches]
                report.batch_warnings = [f"{len(report.pending)} variants are in OpenAI batches that `build --batch` "
                                         "submitted: they are not made again; collect them with `mockups build "
                                         "--batch`, or cancel them with `mockups batch cancel`"]
            drawing.expect(jobs)
            report.outcomes = batched + runner.run(jobs)
        except KeyboardInterrupt:
            report.interrupted = True
        except BaseException:
            drawing.close()
            raise
        finally:
            prepared.backend.close()
        report.spent = runner.spent + sum((o.meta or {}).get("cost", 0.0) or 0.0 for o in batched)
        report.stop_reason = runner.stop_reason
        if prepared.remote is not None and not report.interrupted:
            backfill_remote(prepared)
        writer.remove(plan.removed)
        try:
            try:  # the sheets and overlays not drawn yet are drawn while the build's state is saved
                if not report.interrupted:
                    drawing.start_rest()
            finally:  # saved even when the drawing could not start
                writer.save()
                writer.release()
                if prepared.memo is not None:
                    prepared.memo.save()
                if prepared.plan_memo is not None:
                    prepared.plan_memo.save({v.id for v in prepared.variants}, (writer.path, writer.sha256))
            if not report.interrupted:
                report.warnings = output_warnings(prepared, writer.entries)
                finish_outputs(prepared, options, writer.entries, drawing)
                if not (report.failures or report.skipped or report.stop_reason or options.force
                        or report.cache_warnings or report.pending):
                    save_record(report, options)
        finally:
            drawing.close()
            prepared.stat.save()  # once, after the build record (which hashes the catalog's files again)
        running.unlink(missing_ok=True)
    report.seconds = time.monotonic() - started
    if report.interrupted:
        logger.info("interrupted after %.2f s", report.seconds)
        raise KeyboardInterrupt
    logger.info("built %d, %d failed, %d not started, in %.2f s; spent $%.2f", report.built, len(report.failures),
                report.skipped, report.seconds, report.spent)
    return report


def _to_pay(plan: Plan, in_batches: set[str]) -> float:
    """The estimated cost of what the plan makes, but for what batches submitted before hold."""
    return sum(i.estimate for i in plan.stale if i.job.key not in in_batches)


def fetch_remote(prepared: Prepared) -> int:
    """Fetch the plan's remote hits into the local store, several at a time; one that cannot be
    fetched after all goes back to being made. Returns how many were fetched."""
    items = [i for i in prepared.plan.items if i.remote]
    if not items or prepared.remote is None:
        return 0
    remote = prepared.remote
    started = time.monotonic()
    got = remote.fetch_all([(i.job.key, i.job.variant.ext) for i in items], prepared.store)
    for item, ok in zip(items, got, strict=True):
        if not ok:
            unfetched(item, prepared.backend.estimate)
    logger.info("remote cache %s: %d of %d fetched in %.2f s", remote.shown, sum(got), len(items),
                time.monotonic() - started)
    return sum(got)


def backfill_remote(prepared: Prepared) -> None:
    """Write to the remote the outputs it lacks that this build did not make (made before the
    remote was set, or while it was down): every selected output ends up shared. Only where the
    remote can list (over http that would be a request per variant)."""
    remote = prepared.remote
    if remote is None or remote.read_only or remote.disabled or not remote.listable or remote.known is None:
        return
    missing = list({i.job.key: i.job.variant.ext for i in prepared.plan.items
                    if i.job.key not in remote.known and prepared.store.meta(i.job.key) is not None}.items())
    if missing:
        remote.push_all(missing, prepared.store)
        logger.info("remote cache %s: %d outputs it lacked written", remote.shown, len(missing))


def output_warnings(prepared: Prepared, entries: dict[str, dict] | None = None) -> list[BuildWarning]:
    """The distinct warnings of the selected variants' outputs, each with the variants it affects.

    An output's warnings are read from the manifest's `entries` (the plan's previous ones when not
    given) when the entry is of the variant's current key, else from the cache's record of that key:
    so after a build every output's, and before one those of the outputs already made. A warning
    that starts with the name of one of the variant's input files ("tee.jpg: ...") is about it.
    """
    entries = prepared.plan.previous if entries is None else entries
    found: dict[tuple[str, str], list[str]] = {}
    for job in (item.job for item in prepared.plan.items):
        entry = entries.get(job.id) or {}
        record = entry if entry.get("key") == job.key else prepared.store.meta(job.key) or {}
        texts = record.get("warnings")
        for text in dict.fromkeys(str(t) for t in texts) if isinstance(texts, list) else ():
            file, message = _about(job, text, prepared.catalog.root)
            found.setdefault((file or "", message), []).append(job.id)
    return [BuildWarning(message, file or None, tuple(ids)) for (file, message), ids in sorted(found.items())]


def _about(job: Job, text: str, root: Path) -> tuple[str | None, str]:
    """(the input file a warning names, relative to the catalog's folder, the rest) or (None, text)."""
    name, sep, rest = text.partition(": ")
    if sep and rest:
        for path, _ in job.inputs.values():
            path = Path(path)
            if path.name == name:
                return (path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)), rest
    return None, text


class Drawing:
    """Each product's contact sheets and overlay, drawn in threads of the build process (one per
    core: drawing a sheet, decoding and encoding leave the GIL, and an overlay's OpenCV must not
    run in a forked child) as soon as that product's variants are all made, so that they take the
    cores the runner leaves idle (a worker that has no product left while another finishes its
    last) instead of coming after it; the other products' when the run ends (`start_rest`).
    Nothing is drawn before the runner's workers are there (`go`): a fork copies the locks the
    drawing threads hold (an import's, OpenCV's) held, and a worker would wait on them for ever.

    A product is drawn from its manifest entries as they are when it is complete, in the order
    the manifest holds them (the very entries, and order, that drawing at the end would see:
    nothing changes a product's entries once its variants are made, and the variants the build
    removes are left out). What a drawing raises is raised by `finish`, once the build's state
    is saved; one that cannot start stops the drawing early, and the rest is drawn at the end."""

    def __init__(self, prepared: Prepared, options: BuildOptions, writer: ManifestWriter):
        from concurrent.futures import ThreadPoolExecutor

        from mockups.limits import cores

        self.p, self.options, self.writer = prepared, options, writer
        self.pool = ThreadPoolExecutor(max_workers=cores(), thread_name_prefix="mockups-draw")
        self.futures: list = []  # ("sheets", future of (sheets shown, sheets drawn)) or ("overlay", future)
        self.started: float | None = None
        self.removed = set(prepared.plan.removed)
        self.lock = threading.Lock()  # with -j 1, the runner's threads report
        self.ids: dict[str, dict[str, None]] = {}  # sku -> its variants' ids, in the manifest's order
        for vid, entry in writer.entries.items():
            self.ids.setdefault(str(entry.get("sku")), {})[vid] = None
        self.jobs: dict[str, Job] = {}  # sku -> a job of it (the products that have an overlay)
        for job in prepared.jobs:
            self.jobs.setdefault(job.variant.product.sku, job)
        self.waiting: set[str] = set()  # the ids of the jobs run, not heard of yet
        self.left: dict[str, int] = {}  # sku -> how many of them
        self.drawn: set[str] = set()
        self.ready: list[str] = []  # products complete before the workers are there
        self.going = False
        self.error: BaseException | None = None  # a drawing that could not start: raised by `finish`

    def expect(self, jobs: list[Job]) -> None:
        """The jobs about to run; the products that wait for none of them are drawn once the
        runner's workers are there (`go`)."""
        with self.lock:
            for job in jobs:
                if job.id not in self.waiting:
                    self.waiting.add(job.id)
                    sku = job.variant.product.sku
                    self.left[sku] = self.left.get(sku, 0) + 1
            self.ready = [sku for sku in self.jobs if not self.left.get(sku)]

    def go(self) -> None:
        """The runner's workers are there (and no process is forked after them): draw what is ready."""
        with self.lock:
            self.going = True
            for sku in self.ready:
                self._start(sku)
            self.ready = []

    def hear(self, event: BuildEvent) -> None:
        """After the manifest has recorded `event`: a product whose last variant it ends is drawn."""
        if not isinstance(event, JobEnded):
            return
        job, sku = event.job, event.job.variant.product.sku
        with self.lock:
            if job.id in self.writer.entries:  # its place in the manifest's order, kept from its first entry
                self.ids.setdefault(sku, {})[job.id] = None
            if job.id not in self.waiting:
                return
            self.waiting.discard(job.id)
            self.left[sku] -= 1
            if not self.left[sku]:
                if self.going:
                    self._start(sku)
                else:
                    self.ready.append(sku)

    def start_rest(self) -> None:
        """Draw every product not drawn yet (the run has ended and the manifest's entries are final)."""
        with self.lock:
            self.error = None  # what could not start then is started now
            for sku in [*self.jobs, *self.ids]:
                self._start(sku)
            if self.error is not None:
                raise self.error

    def _start(self, sku: str) -> None:
        if sku in self.drawn or self.error is not None:
            return
        from mockups.review.grid import sheet_tasks

        entries = self.writer.entries
        with self.writer.lock:  # with -j 1 the runner's threads record while this copies
            shown = {vid: entries[vid] for vid in self.ids.get(sku, ()) if vid in entries and vid not in self.removed}
        p = self.p

        def sheets() -> tuple[set[Path], int]:
            tasks, current = sheet_tasks(p.build_dir, p.catalog, p.store, shown)
            for task in tasks:
                task()
            return current, len(tasks)

        try:
            self.started = self.started or time.monotonic()
            if self.options.inspect and sku in self.jobs:
                from mockups.backends.kept import FOLDER as ANALYSES
                from mockups.review.inspect import overlay_tasks

                for task in overlay_tasks(p.build_dir, p.catalog, [self.jobs[sku]], analyses=p.store.root / ANALYSES):
                    self.futures.append(("overlay", self.pool.submit(task)))
            if shown:
                self.futures.append(("sheets", self.pool.submit(sheets)))
            self.drawn.add(sku)
        except Exception as e:  # a thread that cannot start, say: raised once the build's state is saved
            self.error = e

    def finish(self) -> tuple[set[Path], int, int]:
        """Wait for every drawing: (every sheet the entries show, sheets drawn, overlays checked);
        a drawing's exception is raised here."""
        current: set[Path] = set()
        drawn = checked = 0
        for kind, future in self.futures:
            found = future.result()
            if kind == "sheets":
                current |= found[0]
                drawn += found[1]
            else:
                checked += 1
                if found.error:  # the product's variants fail or warn with the same error
                    logger.debug("no overlay of %s: %s", found.sku, found.error)
        return current, drawn, checked

    def close(self) -> None:
        """Stop: drawings not begun are not begun; those running are waited for."""
        self.pool.shutdown(wait=True, cancel_futures=True)


def finish_outputs(prepared: Prepared, options: BuildOptions, entries: dict[str, dict], drawing: Drawing) -> None:
    """Contact sheets, the products' overlays and the gallery, from the manifest's final entries:
    draws the products not drawn yet and waits for the `drawing` (the caller closes it). Without
    a gallery its change record is written while the sheets are still being drawn; the gallery
    waits for them (it links the overlays)."""
    from mockups.review.grid import prune_sheets

    if not options.gallery:  # keep what changed, so a later `mockups gallery` marks it
        from mockups.review.gallery import record_changes

        record_changes(prepared.build_dir, prepared.plan, store=prepared.store, entries=entries)
    current, drawn, checked = drawing.finish()
    prune_sheets(prepared.build_dir, current)
    if options.inspect:
        from mockups.review.inspect import prune_overlays

        prune_overlays(prepared.build_dir, prepared.catalog)
    logger.info("contact sheets: %d redrawn, with %d product overlays checked, in %.2f s", drawn, checked,
                time.monotonic() - (drawing.started or time.monotonic()))
    if options.gallery:
        from mockups.review.gallery import write_gallery

        write_gallery(prepared.build_dir, prepared.catalog, store=prepared.store, plan=prepared.plan,
                      entries=entries, stat=prepared.stat)


def save_record(report: BuildReport, options: BuildOptions) -> None:
    """Record what a build that left everything made was made from (`engine.record`), so that the
    next build, if nothing changed, is a no-op that plans nothing. A file that changed while the
    build read it makes no record."""
    p = report.prepared
    used = {str(p.catalog.file): p.catalog.digest}
    for job in p.jobs:
        used.update(job.inputs.values())
    for path in p.catalog.referenced():  # also those of products a selection left out: their checks warn
        used.setdefault(str(path), "")
    for name, sha in p.watched.items():  # a template (or code) edited while the build rendered its prompts
        used.setdefault(name, sha)
    templates = p.catalog.root / "templates"
    files: dict[str, list] = {}
    approvals = str(p.catalog.root / "approvals.yaml")  # the gallery shows its review states
    for name in [*used, approvals, *record.watched_files(templates, type(p.backend))]:
        try:
            now = p.stat.hash(name)
        except OSError:
            continue  # a referenced file that is gone: the catalog's checks said so
        if used.get(name) not in (None, "", now):
            logger.info("no build record: %s changed during the build", name)
            return
        files[name] = p.stat.entries[name]
    key = record.options_key(p.catalog.file, backend=options.backend, only=options.only, shard=options.shard,
                             build_dir=options.build_dir, cache_dir=options.cache_dir, gallery=options.gallery,
                             inspect=options.inspect, remote_cache=options.remote_cache,
                             cache_read_only=options.cache_read_only)
    found = [{"file": w.file, "message": w.message, "count": w.count, "text": str(w)} for w in report.warnings]
    record.save(p.store.root, key, build_dir=p.build_dir, files=files, templates=templates,
                absent=() if approvals in files else (approvals,),
                recorded=record.Recorded(len(p.plan.items), tuple(str(w) for w in p.warnings), tuple(found)))


def _run_options(backend: Backend, options: BuildOptions, remote: RemoteCache | None = None) -> RunOptions:
    return RunOptions(concurrency=options.jobs or backend.default_concurrency(), retries=options.retries,
                      requests_per_minute=options.requests_per_minute or backend.options.get("requests_per_minute"),
                      fail_fast=options.fail_fast, max_cost=options.max_cost,
                      reuse=not options.force, remote=remote, executor=options.executor,
                      scheduler=options.scheduler)


def _tee(first: Callable | None, *then: Callable) -> Callable:
    """`then`'s, in order, then `first` (the caller's) hear each event."""
    def each(event):
        for hear in then:
            hear(event)
        if first:
            first(event)
    return each


class _lock:
    """One build per project at a time: a second one is refused, not interleaved (and `mockups clean`
    is refused during a build: it would delete the objects the build has made but not yet recorded)."""

    def __init__(self, cache_dir: Path):
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.lock = filelock.FileLock(str(cache_dir / "build.lock"))

    def __enter__(self):
        try:
            self.lock.acquire(timeout=0)
        except filelock.Timeout:
            raise BuildLocked(f"another mockups build is running on this project (lock: {self.lock.lock_file}); "
                              "wait for it to finish") from None
        return self

    def __exit__(self, *exc):
        self.lock.release()


class ManifestWriter:
    """Keeps build/ and manifest.json in step with finished jobs, saving every few seconds.

    A save serialises only the entries that changed: the text of those unchanged since the
    manifest was read is copied from it when it is the file the last build left (its SHA-256 is
    in the plan memo), and that of the ones serialised by an earlier save is kept. `sha256` is
    that of the last text saved (None before any), for the plan memo to record."""

    def __init__(self, prepared: Prepared):
        self.p = prepared
        self.entries = dict(prepared.plan.previous)
        self.path = prepared.build_dir / manifest.NAME
        memo, loaded = prepared.plan_memo, prepared.plan.loaded
        left = memo.manifest_sha(self.path) if memo is not None else None  # what the last build left there
        trusted = left is not None and loaded is not None and loaded.text is not None and loaded.sha256 == left
        self.texts = manifest.Texts(loaded if trusted else None)
        if loaded is not None and not trusted:
            loaded.text = None  # 16 MB at 10,000 entries, of no use
        self.verify = memo.verify if memo is not None else False
        self.sha256: str | None = left if trusted else None
        self.last_save = time.monotonic()
        # until a save is timed, its cost is guessed from the manifest's size (10,000 entries: 5 s between saves)
        self.every = max(MANIFEST_EVERY, len(self.entries) / 2000)
        self.dirty = False
        self._outputs: dict[str, str] | None = None  # see _owners
        self.lock = threading.RLock()  # workers record while an interrupted build saves

    def place_cached(self) -> int:
        """Put outputs that the cache already has into build/ (unchanged ones are already there)."""
        placed = 0
        for item in self.p.plan.items:
            if item.status == ItemStatus.CACHED:
                found = self.p.store.get(item.job.key, item.job.variant.ext)
                assert found is not None, item.job.id  # the plan found it there
                self._place(item.job, *found)
                placed += 1
        self.save()
        return placed

    def _place(self, job: Job, source: Path, meta: dict) -> None:
        target = self.p.build_dir / job.variant.output
        place(source, target)
        self.p.stat.record(target, meta["sha256"])
        self._drop_old(job, keep=job.variant.output)
        self.entries[job.id] = manifest.entry(job, output=job.variant.output, meta=meta)
        self.dirty = True

    def _drop_old(self, job: Job, keep: str | None) -> None:
        """Delete the file the variant's last entry names unless it is `keep` (the variant's output
        now) or another variant's now: an output whose path changed (another format, say) or that is
        out of date and could not be made again is not left in build/ (the cache still has it)."""
        old = self.entries.get(job.id)
        output = old.get("output") if old else None
        if not output or output == keep or self._owners().get(output, job.id) != job.id:
            return
        try:
            (self.p.build_dir / output).unlink(missing_ok=True)
        except OSError as e:
            logger.warning("%s: the previous output could not be deleted (%s)", output, e.strerror)

    def _owners(self) -> dict[str, str]:
        """Output -> the variant that writes it now: this build's, and those it leaves alone."""
        if self._outputs is None:
            planned = {item.job.id: item.job.variant.output for item in self.p.plan.items}
            owners = {str(e.get("output")): vid for vid, e in self.p.plan.previous.items()
                      if vid not in planned and isinstance(e, dict)}
            owners.update((output, vid) for vid, output in planned.items())
            self._outputs = owners
        return self._outputs

    def record(self, event: BuildEvent) -> None:
        with self.lock:
            self._record(event)

    def _record(self, event: BuildEvent) -> None:
        if isinstance(event, JobFinished):
            found = self.p.store.get(event.job.key, event.job.variant.ext)
            if found:
                self._place(event.job, *found)
        elif isinstance(event, JobFailed):
            job = event.job
            old = self.entries.get(job.id)
            if old and old.get("key") != job.key:  # what is there was made from other inputs: not this variant now
                self._drop_old(job, keep=None)
            self.entries[job.id] = manifest.entry(job, output=job.variant.output,
                                                  meta={}, status="failed", error=event.outcome.error)
            self.dirty = True
        else:
            return
        if time.monotonic() - self.last_save > self.every:
            self._save()

    def remove(self, ids: list[str]) -> None:
        for vid in ids:
            old = self.entries.pop(vid, None)
            self.dirty = True
            if old and old.get("output"):
                (self.p.build_dir / old["output"]).unlink(missing_ok=True)

    def release(self) -> None:
        """Let go of the manifest's text as read (a later save serialises every entry)."""
        self.texts = manifest.Texts()
        if self.p.plan.loaded is not None:
            self.p.plan.loaded.text = None

    def save(self) -> None:
        """Write the manifest if anything changed (or it is missing)."""
        with self.lock:
            self._save()

    def _save(self) -> None:
        if self.dirty or not self.path.exists():
            started = time.monotonic()
            data = manifest.dumps(self.entries, self.p.catalog.file.name, self.texts)
            if self.verify and data != manifest.dumps(self.entries, self.p.catalog.file.name):
                raise MemoMismatch(f"{self.path}: the text made from the entries' reused text differs from the "
                                   f"one serialised in full")
            write_if_changed(self.path, data)
            self.sha256 = hashlib.sha256(data).hexdigest()
            self.dirty = False
            # saving every 2 s a manifest that takes a while to write would take the workers' CPU;
            # the cache holds every finished output anyway (a lost manifest is rebuilt)
            self.every = max(MANIFEST_EVERY, 20 * (time.monotonic() - started))
        self.last_save = time.monotonic()


project_lock = _lock  # for the commands that must not run beside a build
