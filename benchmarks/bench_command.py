"""The whole `mockups build` command, timed as a user times it, each figure against a baseline
measured in the same run (medians of several runs; every run is a fresh process):

- whole: 5 products x 8 colours x 6 backgrounds at 1024x1024 JPEG (240 variants), a fresh build
  (empty cache and build folder) against a plain per-variant Pillow pipeline in two processes:
  decode, multiply recolour, perspective-placed logo, blurred shadow, composite, JPEG q90 and a
  WebP thumbnail. Prints each one's variants/s and the ratio (target: 2.5x).
- noop: a no-op rebuild of 10,000 variants (50 products x 20 colours x 10 backgrounds at 128 px):
  time and peak RSS of the whole command, against the same no-op planned in full (no build record)
  and against `python -c pass` (target: under 1 s and 150 MB).
- edit: one colour's hex edited in that catalog (500 variants to remake), against editing two
  colours (1,000), and against the same one-colour edit (500) in a catalog of a quarter the size
  (50 x 5 x 10, 2,500 variants): what a variant made costs, and what each variant of the catalog
  that the edit does not touch costs (proportional: that is near zero).
- photos (with --photos FOLDER, a folder of real product photos without alpha, e.g. cut-outs on
  white; none ship with the project): a catalog of up to 4 of them x 8 colours x 2 backgrounds at
  1024 px, one colour edited, against the same edit with the kept photo analyses and preparations
  (.mockups-cache/analysis, /prepared) deleted first: what keeping them saves an edit.

    python benchmarks/bench_command.py                 # all three (about 5 minutes on 2 cores)
    python benchmarks/bench_command.py whole --runs 5
    python benchmarks/bench_command.py photos --photos ../photos/products
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from PIL import Image, ImageChops, ImageFilter  # noqa: E402

from _catalogs import write_catalog  # noqa: E402

PRODUCTS = {  # the bundled photos, their dyeable areas and print areas (corners)
    "TEE": ("tee.png", "tee-dye.png", [[392, 330], [632, 330], [632, 630], [392, 630]]),
    "TEE-BACK": ("tee-back.png", "tee-back-dye.png", [[402, 290], [622, 290], [622, 560], [402, 560]]),
    "HOODIE": ("hoodie.png", "hoodie-dye.png", [[396, 500], [628, 500], [628, 656], [396, 656]]),
    "MUG": ("mug.png", "mug-dye.png", [[262, 380], [642, 380], [642, 670], [262, 670]]),
    "TOTE": ("tote.png", "tote-dye.png", [[332, 520], [692, 520], [692, 880], [332, 880]]),
}
COLOURS = ["#F4F4F2", "#1B1B1D", "#1F2A44", "#B22234", "#9A9A9A", "#2E5E3A", "#E1AD21", "#E9E1CF"]
BACKGROUNDS = [("studio", "image: assets/studio.jpg"), ("oak", "image: assets/oak-table.jpg"),
               ("sweep", 'sweep: "#EFE9E1"'), ("white", 'colour: "#FFFFFF"'), ("grey", 'colour: "#D9D9D9"'),
               ("sunset", 'gradient: {type: linear, colours: ["#FCE3C4", "#F3A6A0"]}')]


def write_whole(root: Path) -> Path:
    """The 240-variant project, from the bundled assets."""
    shutil.copytree(REPO / "assets", root / "assets")
    lines = ["version: 1", "channels:", "  - {id: web, size: 1024x1024, format: jpeg, quality: 90}", "products:"]
    for sku, (image, dye, corners) in PRODUCTS.items():
        lines += [f"  - sku: {sku}", f"    name: {sku.title()}", f"    image: assets/{image}",
                  f"    recolour_mask: assets/{dye}", f"    print_area: {corners}", "    designs: [fox]"]
    lines.append("colours:")
    lines += [f'  - {{id: c{i}, name: Colour {i}, hex: "{hex_}"}}' for i, hex_ in enumerate(COLOURS)]
    lines.append("backgrounds:")
    lines += [f"  - {{id: {bid}, name: {bid.title()}, {spec}}}" for bid, spec in BACKGROUNDS]
    lines += ["designs:", "  - {id: fox, name: Fox, image: assets/fox.png}"]
    path = root / "catalog.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


# --- the plain Pillow pipeline -----------------------------------------------------------------------

def _background(root: Path, spec: str, size: tuple[int, int]) -> Image.Image:
    if spec.startswith("image: "):
        return Image.open(root / spec.split(": ", 1)[1]).convert("RGB").resize(size)
    if spec.startswith("gradient"):
        top, bottom = (252, 227, 196), (243, 166, 160)
        column = Image.linear_gradient("L").resize(size)
        return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), column)
    hex_ = spec.split('"')[1]
    return Image.new("RGB", size, hex_)


def _perspective(corners) -> list[float]:
    """Coefficients mapping the output's corners back to a 512x512 logo (Pillow's PERSPECTIVE)."""
    import numpy as np

    src = [(0, 0), (512, 0), (512, 512), (0, 512)]
    rows, rhs = [], []
    for (x, y), (u, v) in zip(corners, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return list(np.linalg.solve(np.array(rows, float), np.array(rhs, float)))


def plain_variant(task) -> None:
    root, out, sku, hex_, (bid, spec) = task
    image, dye, corners = PRODUCTS[sku]
    product = Image.open(root / "assets" / image).convert("RGBA")
    size = product.size
    mask = Image.open(root / "assets" / dye).convert("L").resize(size)
    rgb = product.convert("RGB")
    dyed = ImageChops.multiply(rgb, Image.new("RGB", size, hex_))
    rgb = Image.composite(dyed, rgb, mask)
    logo = Image.open(root / "assets" / "fox.png").convert("RGBA").resize((512, 512))
    placed = logo.transform(size, Image.Transform.PERSPECTIVE, _perspective(corners), Image.Resampling.BICUBIC)
    rgb.paste(placed, (0, 0), placed)
    alpha = product.getchannel("A")
    shadow = alpha.filter(ImageFilter.GaussianBlur(24)).point(lambda v: v * 0.35)
    canvas = _background(root, spec, size)
    canvas.paste(Image.new("RGB", size, (0, 0, 0)), (0, 24), shadow)
    canvas.paste(rgb, (0, 0), alpha)
    canvas = canvas.resize((1024, 1024), Image.Resampling.LANCZOS)
    name = f"{sku}-{hex_[1:]}-{bid}"
    canvas.save(out / f"{name}.jpg", quality=90)
    thumb = canvas.copy()
    thumb.thumbnail((320, 320))
    thumb.save(out / f"{name}.thumb.webp", quality=80)


def plain_pipeline(root: Path, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    tasks = [(root, out, sku, hex_, bg) for sku in PRODUCTS for hex_ in COLOURS for bg in BACKGROUNDS]
    with multiprocessing.Pool(2) as pool:
        pool.map(plain_variant, tasks, chunksize=4)
    return len(tasks)


# --- measuring ---------------------------------------------------------------------------------------

def timed(argv: list[str], cwd: Path) -> tuple[float, float, str]:
    """Seconds and peak RSS (MB) of a fresh process, and its stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{err}")
    return seconds, usage.ru_maxrss / 1024, out


def mockups(*args: str) -> list[str]:
    return [sys.executable, "-m", "mockups", *args]


def bench_whole(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        catalog = write_whole(root)
        ours, plain = [], []
        for _ in range(runs):
            for folder in ("build", ".mockups-cache", "plain"):
                shutil.rmtree(root / folder, ignore_errors=True)
            seconds, _, _ = timed(mockups("build", str(catalog)), root)
            ours.append(seconds)
            start = time.perf_counter()
            n = plain_pipeline(root, root / "plain")
            plain.append(time.perf_counter() - start)
        a, b = statistics.median(ours), statistics.median(plain)
        print(f"whole command, {n} variants at 1024x1024 JPEG (median of {runs}):")
        print(f"  mockups build (fresh)   {a:6.2f} s  {n / a:6.1f} variants/s")
        print(f"  plain Pillow pipeline   {b:6.2f} s  {n / b:6.1f} variants/s")
        print(f"  ratio                   {b / a:6.2f}x   (target 2.5x)")


def bench_noop(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        catalog = write_catalog(root, size="128x128")
        timed(mockups("build", str(catalog), "--no-gallery"), root)
        record = root / ".mockups-cache" / "last-build.json"
        quick = [timed(mockups("build", str(catalog), "--no-gallery"), root) for _ in range(runs)]
        full = []
        for _ in range(runs):
            record.unlink()  # the same no-op, planned in full (it writes the record again)
            full.append(timed(mockups("build", str(catalog), "--no-gallery"), root))
        python = [timed([sys.executable, "-c", "pass"], root) for _ in range(runs)]
        t = [statistics.median(x[0] for x in found) for found in (quick, full, python)]
        m = [statistics.median(x[1] for x in found) for found in (quick, full, python)]
        print(f"no-op rebuild, 10,000 variants (median of {runs}):")
        print(f"  mockups build (no-op)       {t[0]:5.2f} s  {m[0]:6.0f} MB   (target: under 1 s, 150 MB)")
        print(f"  the same, planned in full   {t[1]:5.2f} s  {m[1]:6.0f} MB   ratio {t[1] / t[0]:5.1f}x")
        print(f"  python -c pass              {t[2]:5.2f} s  {m[2]:6.0f} MB")


def _edit_times(colours: int, edits: tuple[int, ...], runs: int) -> dict[int, list[tuple[float, float]]]:
    """Seconds and peak RSS of the build after editing the hex of 1, 2... colours of a catalog of 50
    products x `colours` colours x 10 backgrounds (500 variants to remake per colour), each edit
    undone (from the cache) before the next."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        catalog = write_catalog(root, colours=colours, size="128x128")
        timed(mockups("build", str(catalog), "--no-gallery"), root)
        original = catalog.read_text()
        found: dict[int, list[tuple[float, float]]] = {k: [] for k in edits}
        for i in range(runs):
            for edited in edits:
                text = original
                for c in range(edited):  # a new hex for colour c
                    old = f'{{id: c{c}, name: Colour {c}, hex: "#'
                    start = text.index(old) + len(old)
                    fresh = (0x123457 + 104729 * (i * 10 + edited * 3 + c + colours * 1000)) % 0xFFFFFF
                    text = text[:start] + f"{fresh:06X}" + text[start + 6:]
                catalog.write_text(text)
                seconds, rss, out = timed(mockups("build", str(catalog), "--no-gallery"), root)
                made = int(out.split(" made")[0].rsplit(" ", 1)[1])
                assert made == 500 * edited, out
                found[edited].append((seconds, rss))
                catalog.write_text(original)
                timed(mockups("build", str(catalog), "--no-gallery"), root)  # back (from the cache)
        return found


def bench_edit(runs: int) -> None:
    big = _edit_times(20, (1, 2), runs)  # 10,000 variants
    small = _edit_times(5, (1,), runs)  # 2,500 variants: the same 500 remade in a quarter of the catalog
    med = statistics.median
    one, two, one_small = med(s for s, _ in big[1]), med(s for s, _ in big[2]), med(s for s, _ in small[1])
    rss = [med(r for _, r in found) for found in (big[1], big[2], small[1])]
    per_made = (two - one) / 500
    per_catalog = (one - one_small) / 7500
    print(f"edit colours' hex (median of {runs}; each a fresh process):")
    print(f"  one colour,  500 made, catalog of 10,000   {one:5.2f} s  {rss[0]:5.0f} MB")
    print(f"  two colours, 1000 made, catalog of 10,000  {two:5.2f} s  {rss[1]:5.0f} MB")
    print(f"  one colour,  500 made, catalog of  2,500   {one_small:5.2f} s  {rss[2]:5.0f} MB")
    print(f"  each variant made costs {per_made * 1e3:6.2f} ms; each variant of the catalog not touched "
          f"{per_catalog * 1e6:6.1f} us ({per_catalog / per_made:.1%} of a made one)")
    print(f"  ratio two / one  {two / one:5.2f}; fixed cost (2 x one - two) {max(0.0, 2 * one - two):.2f} s, of "
          f"which the 10,000-variant catalog's {per_catalog * 10000:.2f} s (the rest: start-up, the workers' start)")


def bench_photos(runs: int, folder: str | None) -> None:
    if not folder or not Path(folder).is_dir():
        print("photos: skipped (give --photos FOLDER, a folder of product photos without alpha)")
        return
    photos = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".jpg", ".jpeg")
                    and "worn" not in p.name)[:4]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "assets").mkdir()
        shutil.copy(REPO / "assets" / "fox.png", root / "assets" / "fox.png")
        lines = ["version: 1", "channels:", "  - {id: web, size: 1024x1024, format: jpeg}", "products:"]
        for i, photo in enumerate(photos):
            with Image.open(photo) as im:
                im = im.convert("RGB")
                im.thumbnail((1024, 1024))
                im.save(root / "assets" / f"p{i}.jpg", quality=95)
                w, h = im.size
            corners = [[w * 0.38, h * 0.35], [w * 0.62, h * 0.35], [w * 0.62, h * 0.6], [w * 0.38, h * 0.6]]
            lines += [f"  - sku: P{i}", f"    name: {photo.stem}", f"    image: assets/p{i}.jpg",
                      f"    print_area: {[[round(x), round(y)] for x, y in corners]}", "    designs: [fox]"]
        lines.append("colours:")
        lines += [f'  - {{id: c{i}, name: Colour {i}, hex: "{hex_}"}}' for i, hex_ in enumerate(COLOURS)]
        lines += ["backgrounds:", '  - {id: white, name: White, colour: "#FFFFFF"}',
                  '  - {id: grey, name: Grey, colour: "#D9D9D9"}',
                  "designs:", "  - {id: fox, name: Fox, image: assets/fox.png}"]
        catalog = root / "catalog.yaml"
        catalog.write_text("\n".join(lines) + "\n")
        fresh = timed(mockups("build", str(catalog)), root)[0]
        kept, lost = [], []
        original = catalog.read_text()
        for i in range(runs):
            for found in (kept, lost):
                if found is lost:
                    for name in ("analysis", "prepared"):
                        shutil.rmtree(root / ".mockups-cache" / name, ignore_errors=True)
                fresh_hex = f"#{(0x3A5F8B + 7919 * (2 * i + (found is lost))) % 0xFFFFFF:06X}"
                catalog.write_text(original.replace(COLOURS[0], fresh_hex))
                seconds, _, out = timed(mockups("build", str(catalog)), root)
                assert f" {2 * len(photos)} made" in out, out
                found.append(seconds)
            catalog.write_text(original)
            timed(mockups("build", str(catalog)), root)  # back (from the cache), analyses kept again
        a, b = statistics.median(kept), statistics.median(lost)
        n = len(photos) * len(COLOURS) * 2
        print(f"one colour edited, {len(photos)} real photos, {n} variants at 1024 px (median of {runs}; "
              f"the fresh build took {fresh:.2f} s):")
        print(f"  analyses and preparations kept     {a:6.2f} s   ({2 * len(photos)} made)")
        print(f"  the same edit with them deleted    {b:6.2f} s   ratio {b / a:5.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("which", nargs="*", help="whole, noop, edit, photos (default: all; photos needs --photos)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--photos", help="a folder of real product photos, for the `photos` figure")
    args = ap.parse_args()
    benches = {"whole": bench_whole, "noop": bench_noop, "edit": bench_edit,
               "photos": lambda runs: bench_photos(runs, args.photos)}
    unknown = set(args.which) - set(benches)
    if unknown:
        ap.error(f"unknown benchmark {', '.join(sorted(unknown))}; choose from {', '.join(benches)}")
    for name in args.which or list(benches):
        benches[name](args.runs)


if __name__ == "__main__":
    main()
