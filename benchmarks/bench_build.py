"""Build-engine benchmarks: plan and no-op rebuild of 10,000 variants, runner efficiency.

    python benchmarks/bench_build.py            # everything (a few minutes)
    python benchmarks/bench_build.py --quick    # smaller sizes

Each figure is printed with a baseline measured in the same run:
- plan: `mockups plan` (load, validate, expand, render prompts, hash, compare with the manifest)
  against the floor of reading the YAML and hashing one JSON blob per variant;
- no-op rebuild: time and peak RSS against a process that only loads the manifest;
- runner: wall time against the ideal (variants x latency / concurrency) for a fixed-latency backend.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from PIL import Image  # noqa: E402

from mockups import BuildOptions, build, prepare  # noqa: E402
from mockups.backends.base import Backend, Rendered  # noqa: E402

LATENCY = 0.2


class Flat(Backend):
    """A tiny flat image at once: isolates the engine from imaging."""

    name = "flat"
    version = "1"
    parallelism = "thread"

    def default_concurrency(self) -> int:
        return 8

    def render(self, job) -> Rendered:
        time.sleep(float(self.options.get("latency", 0)))
        return Rendered(Image.new("RGB", job.variant.channel.size, job.variant.colour.hex), model="flat")


class Latency(Flat):
    def __init__(self, options=None):
        super().__init__({"latency": LATENCY, **(options or {})})


def child(task: str, catalog: str) -> None:
    """Run one measured task in this (fresh) process and print JSON with time and peak RSS."""
    start = time.perf_counter()
    if task == "plan":
        prepared = prepare(catalog, BuildOptions(backend="bench_build:Flat"))
        extra = {"variants": len(prepared.jobs)}
    elif task == "noop":
        report = build(catalog, BuildOptions(backend="bench_build:Flat"))
        extra = {"built": report.built, "unchanged": report.prepared.plan.counts()["unchanged"]}
    elif task == "manifest":
        data = json.loads((Path(catalog).parent / "build" / "manifest.json").read_text())
        extra = {"entries": len(data["variants"])}
    elif task == "floor":
        import yaml

        doc = yaml.safe_load(Path(catalog).read_text())
        n = len(doc["products"]) * len(doc["colours"]) * len(doc["backgrounds"])
        for i in range(n):
            hashlib.sha256(json.dumps({"i": i, "doc": doc["colours"][i % len(doc["colours"])]}).encode()).hexdigest()
        extra = {"variants": n}
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "rss_mb": peak_rss_mb(), **extra}))


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss it does not inherit the parent's before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(task: str, catalog: Path, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, __file__, "--child", task, str(catalog)], capture_output=True,
                             text=True, check=True, cwd=REPO / "benchmarks").stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    return {**runs[0], "seconds": statistics.median(r["seconds"] for r in runs),
            "rss_mb": statistics.median(r["rss_mb"] for r in runs)}


def bench_plan_and_noop(products: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        from _catalogs import write_catalog

        catalog = write_catalog(Path(tmp), products=products)
        plan, floor = measure("plan", catalog, repeat), measure("floor", catalog, repeat)
        print(f"plan, {plan['variants']:,} variants: {plan['seconds']:.2f} s (median of {repeat}), "
              f"peak RSS {plan['rss_mb']:.0f} MB; floor (YAML + one hash per variant) {floor['seconds']:.2f} s, "
              f"{floor['rss_mb']:.0f} MB; ratio {plan['seconds'] / floor['seconds']:.1f}x")
        t = time.perf_counter()
        sys.path.insert(0, str(REPO / "benchmarks"))
        report = build(catalog, BuildOptions(backend="bench_build:Flat", gallery=False))
        print(f"first build of {report.built:,} variants (flat backend, 64x64 PNG): {time.perf_counter() - t:.1f} s")
        noop, manifest = measure("noop", catalog, repeat), measure("manifest", catalog, repeat)
        assert noop["built"] == 0 and noop["unchanged"] == plan["variants"], noop
        print(f"no-op rebuild: {noop['seconds']:.2f} s, peak RSS {noop['rss_mb']:.0f} MB; "
              f"loading the manifest alone: {manifest['seconds']:.2f} s, {manifest['rss_mb']:.0f} MB; "
              f"RSS ratio {noop['rss_mb'] / manifest['rss_mb']:.1f}x")


def bench_runner(sizes: dict[int, int]) -> None:
    from mockups.engine.cache import ObjectStore
    from mockups.engine.runner import Runner, RunOptions

    from _catalogs import write_catalog

    for concurrency, count in sizes.items():
        with tempfile.TemporaryDirectory() as tmp:
            catalog = write_catalog(Path(tmp), products=count, colours=1, backgrounds=1)
            prepared = prepare(catalog, BuildOptions(backend="bench_build:Latency"))
            runner = Runner(prepared.backend, ObjectStore(Path(tmp) / "cache"), RunOptions(concurrency=concurrency))
            t = time.perf_counter()
            outcomes = runner.run(prepared.jobs)
            wall = time.perf_counter() - t
            ideal = count * LATENCY / concurrency
            assert all(o.ok for o in outcomes)
            print(f"runner, {count} variants x {LATENCY * 1000:.0f} ms at concurrency {concurrency}: "
                  f"{wall:.2f} s vs ideal {ideal:.2f} s -> {wall / ideal:.3f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=2)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    bench_plan_and_noop(products=10 if args.quick else 50, repeat=3)
    bench_runner({1: 20, 8: 80, 32: 320} if args.quick else {1: 50, 8: 200, 32: 640})


if __name__ == "__main__":
    main()
