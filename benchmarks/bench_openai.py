"""Benchmark of the `openai` backend against the fake OpenAI server (127.0.0.1 only).

    python benchmarks/bench_openai.py [--repeat 3] [--variants 200] [--latency 2] [--jobs 16]

1. Throughput: builds N variants (default 200) with every request taking `latency` seconds at
   concurrency `jobs`, and prints the wall time against the ideal N x latency / jobs as a ratio
   (target < 1.1). The build is the whole `mockups.engine.pipeline.build` (plan, requests, cache, manifest,
   contact sheets), without the HTML gallery.
2. Rate limit: builds a smaller set (default 24 variants) with requests_per_minute 20 and prints
   the largest number of requests the server saw in any 60 s window (target <= 20).

The fake server runs in its own process (as the real API runs elsewhere), so its image work
does not compete with the build for this interpreter's GIL. Medians are printed when a
measurement is repeated.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mockups import BuildOptions, JobFailed, JobFinished, JobStarted, build  # noqa: E402


class FakeServer:
    """tests/fake_openai.py in a child process, controlled over HTTP."""

    def __init__(self, api_key: str, latency: float):
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.fake_openai", "--latency", str(latency),
                                      "--api-key", api_key], cwd=REPO, stdout=subprocess.PIPE, text=True)
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError("the fake OpenAI server did not start")
        self.root = self.base_url.rsplit("/v1", 1)[0]

    def _call(self, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        with urllib.request.urlopen(urllib.request.Request(self.root + path, data=data), timeout=10) as r:
            return json.loads(r.read())

    def configure(self, **config) -> dict:
        return self._call("/_fake/config", config)

    def stats(self) -> dict:
        return self._call("/_fake/stats")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def product_image(size: int = 128) -> Image.Image:
    alpha = Image.new("L", (size, size), 0)
    ImageDraw.Draw(alpha).rounded_rectangle((size // 6, size // 8, size * 5 // 6, size * 7 // 8), size // 8, fill=255)
    y, x = np.mgrid[0:size, 0:size]
    shade = (np.sin(x / size * 9.0) * 18 + np.cos(y / size * 5.0) * 10).astype(np.float32)
    rgb = np.clip(225 + shade[..., None].repeat(3, axis=2), 0, 255).astype(np.uint8)
    image = Image.fromarray(rgb, "RGB").convert("RGBA")
    image.putalpha(alpha)
    return image


def write_project(root: Path, base_url: str, variants: int, rpm: float | None = None) -> Path:
    """Two products x C colours x B backgrounds (C x B x 2 = variants), one 128x128 channel."""
    backgrounds = 10 if variants >= 40 else 1
    colours = max(1, variants // (2 * backgrounds))
    (root / "assets").mkdir(parents=True)
    product_image().save(root / "assets" / "a.png")
    product_image(120).save(root / "assets" / "b.png")
    lines = ["version: 1", "defaults:", "  backend: openai", "  openai:", "    model: gpt-image-2",
             "    quality: low", "    size: 256x256", f"    base_url: '{base_url}'", "    timeout: 60",
             *([f"    requests_per_minute: {rpm:g}"] if rpm else []),
             "channels:", "  - {id: web, size: 128x128, format: png}", "products:",
             "  - {sku: A, name: Shirt A, image: assets/a.png}", "  - {sku: B, name: Shirt B, image: assets/b.png}",
             "colours:"]
    lines += [f'  - {{id: c{i}, name: Colour {i}, hex: "#{(i * 1234567) % 0xFFFFFF:06X}"}}' for i in range(colours)]
    lines.append("backgrounds:")
    lines += [f'  - {{id: b{i}, name: Backdrop {i}, colour: "#{(i * 7654321) % 0xFFFFFF:06X}"}}'
              for i in range(backgrounds)]
    (root / "catalog.yaml").write_text("\n".join(lines) + "\n")
    return root / "catalog.yaml"


def run_build(fake: FakeServer, variants: int, jobs: int, rpm: float | None) -> dict:
    """One build in a fresh folder; the limit is the catalog's (the runner and the backend both see it).

    Returns the whole build's wall time and the request phase's (first job started to last job
    done), which leaves out planning before and contact sheets and the manifest after.
    """
    with tempfile.TemporaryDirectory(prefix="bench-openai-") as tmp:
        catalog = write_project(Path(tmp), fake.base_url, variants, rpm)
        fake.configure(reset=True)
        marks: dict[str, float] = {}

        def on_event(event) -> None:
            if isinstance(event, JobStarted):
                marks.setdefault("first_start", time.monotonic())
            elif isinstance(event, (JobFinished, JobFailed)):
                marks["last_done"] = time.monotonic()

        started = time.monotonic()
        report = build(catalog, BuildOptions(jobs=jobs, gallery=False), on_event=on_event)
        total = time.monotonic() - started
        return {"total": total, "requests": marks["last_done"] - marks["first_start"], "built": report.built,
                "failed": len(report.failures)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--variants", type=int, default=200)
    ap.add_argument("--latency", type=float, default=2.0)
    ap.add_argument("--jobs", type=int, default=16)
    ap.add_argument("--rpm", type=float, default=20)
    ap.add_argument("--rpm-variants", type=int, default=24)
    args = ap.parse_args()
    key = "sk-bench-" + secrets.token_hex(12)
    os.environ["OPENAI_API_KEY"] = key
    fake = FakeServer(key, args.latency)
    try:
        ideal = args.variants * args.latency / args.jobs
        totals, phases = [], []
        for i in range(args.repeat):
            run = run_build(fake, args.variants, args.jobs, None)
            totals.append(run["total"])
            phases.append(run["requests"])
            print(f"throughput run {i + 1}: {run['built']} built, {run['failed']} failed, {fake.stats()['requests']} "
                  f"requests; build {run['total']:.2f} s (ratio {run['total'] / ideal:.3f}), request phase "
                  f"{run['requests']:.2f} s (ratio {run['requests'] / ideal:.3f})", flush=True)
        median, phase = statistics.median(totals), statistics.median(phases)
        waves = -(-args.variants // args.jobs) * args.latency
        print(f"THROUGHPUT {args.variants} variants x {args.latency:g} s at -j {args.jobs}: "
              f"median build {median:.2f} s, "
              f"request phase {phase:.2f} s vs ideal {ideal:.2f} s -> ratio {median / ideal:.3f} (build), "
              f"{phase / ideal:.3f} (requests); target < 1.1 (whole waves alone give {waves / ideal:.3f})")
        fake.configure(latency=0.2)
        run = run_build(fake, args.rpm_variants, args.jobs, args.rpm)
        peak = fake.stats()["max_in_60s"]
        print(f"RATE LIMIT {args.rpm_variants} variants at {args.rpm:g} requests/minute: {run['built']} built in "
              f"{run['total']:.1f} s, "
              f"at most {peak} requests in any 60 s window (target <= {args.rpm:g})")
        return 0 if median / ideal < 1.1 and peak <= args.rpm else 1
    finally:
        fake.stop()


if __name__ == "__main__":
    sys.exit(main())
