"""What is out of date, and why: the first half of a build, with no side effects.

Each job is one of
- `unchanged`: the last manifest has the same key and the output file is there with its recorded hash;
- `cached`: the output is in the cache (made before, or by another shard), or in the shared remote
  cache (reason "in the shared cache": the build fetches it): placed without a backend call;
- `new` / `changed` / `failed` / `missing`: the backend must make it (changed says which inputs changed).
Variants of the last manifest that the catalog no longer makes are `removed`.
"""

from __future__ import annotations

import enum
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from mockups.engine import manifest
from mockups.engine.cache import ObjectStore, StatCache
from mockups.jobs import Job

logger = logging.getLogger(__name__)


class ItemStatus(enum.StrEnum):
    """A plan item's status; a `str`, so it compares, formats and serialises as its value ("new")."""

    UNCHANGED = "unchanged"  # the output is there, as the last build made it
    CACHED = "cached"        # the cache has it: placed without calling a backend
    NEW = "new"              # the backend makes it (and the four below)
    CHANGED = "changed"      # `Item.reasons` says which inputs changed
    FAILED = "failed"        # it failed last time
    MISSING = "missing"      # the output file is missing or was modified

    @property
    def stale(self) -> bool:
        """Whether a backend must make it."""
        return self in NEEDS_BACKEND


NEEDS_BACKEND = (ItemStatus.NEW, ItemStatus.CHANGED, ItemStatus.FAILED, ItemStatus.MISSING)


@dataclass
class Item:
    """One selected variant in a plan: its job (`job.id`, `job.variant`, `job.key`), its `status`,
    the `reasons` it is changed (or failed), and the estimated cost of making it (USD)."""

    job: Job
    status: ItemStatus
    reasons: list[str] = field(default_factory=list)
    estimate: float = 0.0
    remote: bool = False  # `cached` in the remote cache: the build fetches it into the local one
    fallback: tuple | None = field(default=None, repr=False)  # (status, reasons) if the fetch fails

    @property
    def stale(self) -> bool:
        return self.status in NEEDS_BACKEND


@dataclass
class Plan:
    """What a build of the selected variants will do: an `Item` per variant (`items`; `stale` ones
    need a backend), the ids of the last build's variants the catalog no longer makes (`removed`),
    and the last manifest's entries (`previous`). `to_json()` is what `mockups plan --json` prints."""

    items: list[Item]
    removed: list[str]
    previous: dict[str, dict]
    loaded: manifest.Loaded | None = field(default=None, repr=False, compare=False)  # the manifest `previous` is of

    @property
    def stale(self) -> list[Item]:
        return [i for i in self.items if i.stale]

    @property
    def estimated_cost(self) -> float:
        return sum(i.estimate for i in self.stale)

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in ItemStatus}
        for i in self.items:
            out[i.status] += 1
        out["removed"] = len(self.removed)
        return out

    def to_json(self) -> dict:
        return {
            "counts": self.counts(), "estimated_cost": round(self.estimated_cost, 6),
            "variants": [{"id": i.job.id, "status": i.status, "reasons": i.reasons, "key": i.job.key,
                          "output": i.job.variant.output, "backend": i.job.backend,
                          "estimated_cost": round(i.estimate, 6)} for i in self.items],
            "removed": self.removed,
        }


def output_ok(build_dir: str | os.PathLike, old: dict, stat: StatCache) -> bool:
    if old.get("status") != "ok" or not old.get("output"):
        return False
    try:
        return stat.hash(os.path.join(build_dir, old["output"])) == old.get("sha256")
    except OSError as e:
        logger.debug("%s: cannot read the output (%s): it is made again", old["output"], e)
        return False


def make_plan(jobs: list[Job], build_dir: Path, store: ObjectStore | None, stat: StatCache, *,
              estimate=None, all_selected: bool = True, force: bool = False, remote=None) -> Plan:
    """Classify each job (see the module's docstring). With a `remote` cache (engine.remote), the
    jobs the local tiers lack are looked up there in one go: those it holds are `cached` too."""
    loaded = manifest.read(build_dir)
    previous = loaded.entries
    ids = [job.id for job in jobs]
    folder = os.fspath(build_dir)  # joined with 10,000 outputs: a str, not a Path, each time
    items = [_classify(job, previous.get(vid), folder, store, stat, force) for job, vid in zip(jobs, ids, strict=True)]
    if remote is not None and not force:
        found = remote.present(i.job.key for i in items if i.stale)
        for item in items:
            if item.stale and item.job.key in found:
                item.fallback = (item.status, item.reasons)
                item.status, item.remote = ItemStatus.CACHED, True
                why = item.reasons if item.fallback[0] == ItemStatus.CHANGED else []
                item.reasons = [*why, "in the shared cache"]
    for item in items:
        if item.stale and estimate is not None:
            item.estimate = estimate(item.job)
    current = set(ids)
    removed = sorted(set(previous) - current) if all_selected else []
    return Plan(items=items, removed=removed, previous=previous, loaded=loaded)


def unfetched(item: Item, estimate=None) -> None:
    """A remote hit that could not be fetched after all: back to what it was without the remote."""
    if item.remote and item.fallback is not None:
        item.status, item.reasons = item.fallback
        item.remote, item.fallback = False, None
        item.estimate = estimate(item.job) if estimate is not None else 0.0


def _classify(job: Job, old: dict | None, build_dir: str, store, stat, force: bool) -> Item:
    if force:
        return Item(job, ItemStatus.CHANGED if old else ItemStatus.NEW, ["--force"])
    if old and old.get("key") == job.key and output_ok(build_dir, old, stat):
        return Item(job, ItemStatus.UNCHANGED)
    if store is not None and store.get(job.key, job.variant.ext):
        if old and old.get("key") == job.key:  # made, unchanged, but its file in the build folder is not there
            return Item(job, ItemStatus.CACHED, ["output file missing or modified: placed again from the cache"])
        return Item(job, ItemStatus.CACHED, manifest.why_changed(old, job) if old else [])
    if old is None:
        return Item(job, ItemStatus.NEW)
    if old.get("key") != job.key:
        return Item(job, ItemStatus.CHANGED, manifest.why_changed(old, job))
    if old.get("status") != "ok":
        return Item(job, ItemStatus.FAILED, [old.get("error") or "failed last time"])
    return Item(job, ItemStatus.MISSING, ["output file missing or modified"])
