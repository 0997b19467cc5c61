"""Compositor throughput: whole variants per second, against baselines measured in the same run.

    python benchmarks/bench_compositor.py            # 1024 and 2048, 1 and 2 workers (a few minutes)
    python benchmarks/bench_compositor.py --quick    # 1024 only, fewer variants

A variant is the whole job: decode, cut-out/recolour, design placement, background, shadow,
composite, encode (JPEG q90, as the reference figures), thumbnail, and the atomic cache write.
The catalog is the bundled sample products x 4 colours x 3 backgrounds, so each colour appears on
several backgrounds (the realistic case the per-product caches are for).

- mockups: the `local` backend through the real runner, 1 worker (in-process) and 2 worker processes;
- baseline: a straightforward plain-Pillow pipeline, each variant decoded, tinted, placed,
  composited and encoded from scratch (what a first script would do);
- imagemagick: the same steps as one `magick`/`convert` command per variant (when installed).
Peak memory is the largest worker's VmHWM, to show it is bounded by workers, not variants.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from PIL import Image, ImageOps  # noqa: E402

from mockups import BuildOptions, imaging, prepare  # noqa: E402

COLOURS = ["white", "black", "navy", "cherry"]
BACKGROUNDS = ["studio", "oak-table", "sweep"]


def write_catalog(root: Path, size: int, products: list[str]) -> Path:
    """The bundled catalog, narrowed to `products`, each in COLOURS x BACKGROUNDS, one JPEG channel."""
    import yaml

    shutil.copytree(REPO / "assets", root / "assets")
    data = yaml.safe_load((REPO / "catalog.yaml").read_text())
    data["channels"] = [{"id": "bench", "size": f"{size}x{size}", "format": "jpeg", "quality": 90, "fill": 0.8}]
    data["products"] = [dict(p, colours=COLOURS, backgrounds=BACKGROUNDS) for p in data["products"]
                        if p["sku"] in products]
    for p in data["products"]:
        p.pop("template", None)
    data.pop("matrix", None)
    path = root / "catalog.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# --- the measured pipelines -----------------------------------------------------------------------

def child_mockups(catalog: str, workers: int) -> dict:
    from mockups.engine.cache import ObjectStore
    from mockups.engine.runner import Runner, RunOptions

    prepared = prepare(catalog, BuildOptions(backend="local"))
    store = ObjectStore(Path(catalog).parent / f"cache-{workers}")
    runner = Runner(prepared.backend, store, RunOptions(concurrency=workers))
    start = time.perf_counter()
    outcomes = runner.run(prepared.jobs)
    seconds = time.perf_counter() - start
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok][:3]
    return {"variants": len(outcomes), "seconds": seconds}


def _baseline_variant(job) -> bytes:
    v = job.variant
    product = Image.open(job.input_path("product")).convert("RGBA")
    dye = (Image.open(job.input_path("recolour_mask")).convert("L") if job.input_path("recolour_mask")
           else product.getchannel("A"))
    tinted = ImageOps.colorize(ImageOps.grayscale(product), black="#000000", white="#FFFFFF", mid=v.colour.hex)
    tinted.putalpha(product.getchannel("A"))
    product = Image.composite(tinted, product, dye)
    if v.design is not None and v.product.print_area:
        xs, ys = [p[0] for p in v.product.print_area], [p[1] for p in v.product.print_area]
        box = (int(max(xs) - min(xs)), int(max(ys) - min(ys)))
        design = ImageOps.contain(Image.open(job.input_path("design")).convert("RGBA"), box)
        product.alpha_composite(design, (int(min(xs)), int(min(ys))))
    w, h = v.channel.size
    if job.input_path("background"):
        canvas = ImageOps.fit(Image.open(job.input_path("background")).convert("RGB"), (w, h))
    else:
        canvas = Image.new("RGB", (w, h), v.background.sweep or v.background.colour or "#EEEEEE")
    product = product.crop(product.getbbox())
    product = ImageOps.contain(product, (int(w * v.channel.fill), int(h * v.channel.fill)))
    canvas.paste(product, ((w - product.width) // 2, (h - product.height) // 2), product)
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=90)
    thumb = canvas.copy()
    thumb.thumbnail((360, 360))
    thumb.save(io.BytesIO(), "WEBP", quality=80)
    return out.getvalue()


def child_baseline(catalog: str) -> dict:
    prepared = prepare(catalog, BuildOptions(backend="local"))
    start = time.perf_counter()
    for job in prepared.jobs:
        _baseline_variant(job)
    return {"variants": len(prepared.jobs), "seconds": time.perf_counter() - start}


def imagemagick() -> list[str] | None:
    for cmd in (["magick"], ["convert"]):
        try:
            out = subprocess.run([*cmd, "-version"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        if "ImageMagick" in out:
            return cmd
    return None


def child_imagemagick(catalog: str, limit: int) -> dict:
    cmd = imagemagick()
    prepared = prepare(catalog, BuildOptions(backend="local"))
    jobs = prepared.jobs[:limit]
    tmp = Path(tempfile.mkdtemp())
    start = time.perf_counter()
    for i, job in enumerate(jobs):
        v = job.variant
        w, h = v.channel.size
        xs, ys = [p[0] for p in v.product.print_area], [p[1] for p in v.product.print_area]
        bg = ([str(job.input_path("background")), "-resize", f"{w}x{h}^", "-gravity", "center", "-extent", f"{w}x{h}"]
              if job.input_path("background") else ["-size", f"{w}x{h}", f"xc:{v.background.sweep or '#EEEEEE'}"])
        args = [*cmd, *bg, "(", str(job.input_path("product")), "(", "+clone", "-colorspace", "gray",
                "+level-colors", f"black,{v.colour.hex}", ")", "-compose", "over", "-composite",
                "(", str(job.input_path("design")),
                "-resize", f"{int(max(xs) - min(xs))}x{int(max(ys) - min(ys))}", ")",
                "-geometry", f"+{int(min(xs))}+{int(min(ys))}", "-composite", "-trim", "+repage",
                "-resize", f"{int(w * v.channel.fill)}x{int(h * v.channel.fill)}", ")",
                "-gravity", "center", "-compose", "over", "-composite", "-quality", "90", str(tmp / f"{i}.jpg")]
        subprocess.run(args, check=True, capture_output=True)
        subprocess.run([*cmd, str(tmp / f"{i}.jpg"), "-thumbnail", "360x360", str(tmp / f"{i}.webp")],
                       check=True, capture_output=True)
    return {"variants": len(jobs), "seconds": time.perf_counter() - start}


def child_stages(catalog: str) -> dict:
    """Where the time of one variant goes, per stage (first variant of the tee, medians of 5)."""
    from mockups.backends.local import LocalBackend

    prepared = prepare(catalog, BuildOptions(backend="local"))
    job = prepared.jobs[1]
    times: dict[str, list[float]] = {}

    def timed(name, fn, *args, **kwargs):
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        times.setdefault(name, []).append(time.perf_counter() - t)
        return out

    for _ in range(5):
        compositor = LocalBackend(prepared.backend.options).compositor  # fresh caches: each stage is really done
        timed("decode + per-product prep", compositor.product, job)
        dyed = timed("recolour + design", compositor.look, job, design=True)
        canvas = tuple(job.variant.channel.size)
        plate = timed("background plate", compositor.background_plate, job, canvas)
        image = timed("compose + shadow", imaging.compose, dyed, plate, canvas, fill=0.8, shadow=True)
        timed("encode JPEG q90", imaging.encode, image, "jpeg", quality=90, metadata={"sku": "x"})
        timed("thumbnail", imaging.thumbnail, image)
    return {k: statistics.median(v) * 1000 for k, v in times.items()}


def colour_accuracy() -> None:
    """Median and 90th-percentile CIEDE2000 of the tee's mid-tones against every bundled colour."""
    import numpy as np

    from mockups import load_catalog

    tee = imaging.open_image(REPO / "assets/tee.png")
    dye = np.asarray(imaging.open_image(REPO / "assets/tee-dye.png").convert("L"))
    prep = imaging.prepare_recolour(tee, dye)
    src = np.asarray(tee)[..., :3][dye == 255]
    lum = imaging.srgb_to_lab(src)[:, 0]
    lo, hi = np.percentile(lum, [30, 70])
    mid = (lum >= lo) & (lum <= hi)
    print("colour accuracy on the bundled tee (mid-tones, CIEDE2000; target median < 3, none over 6):")
    for colour in load_catalog(REPO / "catalog.yaml").model.colours:
        out = np.asarray(imaging.recolour(prep, tee, colour.hex))[..., :3][dye == 255]
        de = imaging.ciede2000(imaging.srgb_to_lab(out[mid]), imaging.hex_to_lab(colour.hex)[None, :])
        r = np.corrcoef(lum, imaging.srgb_to_lab(out)[:, 0])[0, 1]
        print(f"  {colour.name:<14} {colour.hex}  median {np.median(de):4.2f}  p90 {np.percentile(de, 90):4.2f}"
              f"  shading r={r:.3f}")


def peak_rss_mb() -> float:
    import resource

    own = next(int(ln.split()[1]) for ln in Path("/proc/self/status").read_text().splitlines()
               if ln.startswith("VmHWM"))
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def run_child(*args) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *map(str, args)], capture_output=True, text=True,
                         cwd=REPO)
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs="+")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.child:
        kind, catalog, *rest = args.child
        fn = {"mockups": lambda: child_mockups(catalog, int(rest[0])), "baseline": lambda: child_baseline(catalog),
              "imagemagick": lambda: child_imagemagick(catalog, int(rest[0])), "stages": lambda: child_stages(catalog)}
        result = fn[kind]()
        result["rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return
    colour_accuracy()
    products = (["TEE-CLASSIC", "MUG-11OZ"] if args.quick
                else ["TEE-CLASSIC", "HOODIE-PULLOVER", "MUG-11OZ", "TOTE-CANVAS"])
    for size in ([1024] if args.quick else [1024, 2048]):
        with tempfile.TemporaryDirectory() as tmp:
            catalog = write_catalog(Path(tmp), size, products)
            report(size, catalog, quick=args.quick)


def report(size: int, catalog: Path, *, quick: bool) -> None:
    base = run_child("baseline", catalog)
    rate = lambda r: r["variants"] / r["seconds"]  # noqa: E731
    print(f"\n{size}x{size}, {base['variants']} variants (JPEG q90 + WebP thumbnail)")
    print(f"  baseline, plain Pillow from scratch: {rate(base):6.2f} variants/s  (peak {base['rss_mb']:.0f} MB)")
    magick = imagemagick()
    if magick and size == 1024:
        im = run_child("imagemagick", catalog, 6 if quick else 12)
        print(f"  ImageMagick CLI ({magick[0]}):            {rate(im):6.2f} variants/s")
    for workers in (1, 2):
        r = run_child("mockups", catalog, workers)
        line = f"  mockups local, {workers} worker{'s' if workers > 1 else ' '}:         {rate(r):6.2f} variants/s"
        line += f"  = {rate(r) / rate(base):.2f}x baseline"
        if magick and size == 1024:
            line += f", {rate(r) / rate(im):.1f}x ImageMagick"
        print(line + f"  (peak {r['rss_mb']:.0f} MB per process)")
    stages = run_child("stages", catalog)
    stages.pop("rss_mb", None)
    print("  one variant, by stage (ms, median of 5; per-product prep is cached across its variants):")
    for name, ms in stages.items():
        print(f"    {name:<28} {ms:7.1f}")


if __name__ == "__main__":
    main()
