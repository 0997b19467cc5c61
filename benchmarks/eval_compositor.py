"""Evaluate the offline compositor on real product photos, through real builds.

    python benchmarks/eval_compositor.py FOLDER OUT [--only NAME ...] [--size 1024] [--jobs N]
    python benchmarks/eval_compositor.py --bench [--repeat 7]

FOLDER holds ``products/`` (the photos) and ``logos/`` (the designs); neither is part of the
repository: when ``FOLDER/products`` does not exist the script says so and exits successfully.
``--only`` takes photo file names (or their stems).

How each photo is run
---------------------
Nothing is re-implemented: for each photo a small project is written to ``OUT/projects/NAME/``
(the photo and a design copied into ``assets/``, a ``catalog.yaml`` with one product) and built
with :func:`mockups.build`, as ``mockups build`` does (the worker processes, the cache, the
contact sheets, the ``build/inspect/`` overlays and the gallery). Every project is written
afresh, so every build is a cold one. The catalog has five colours: navy #1F2A44, forest
#2E6B3A, cherry #B22234, white #F4F4F2 and black #1B1B1D, and one design on the print area.

* Cut-outs (a photo without alpha on a plain backdrop) and photos with alpha: two contrasting
  solid backgrounds, magenta #FF00FF and dark green #0B3D0B, and one square ``SIZE`` PNG
  channel without contact shadow (a shadow would darken the background and spoil the
  recovery of the alpha below).
* Scene photos: one PNG channel with the photo's aspect (its long side ``SIZE``; a photo
  smaller than that keeps its own size), so ``scene_fit: crop`` crops nothing.

Which kind a photo is, for writing its channel, is asked of :func:`mockups.imaging.photo_kind`
(the call the build makes); the table shows what the build itself decided. Print areas: the
annotation's ``print_quad`` when ``benchmarks/annotations/NAME.json`` has one, else the
rectangle or quad in ``PRINTS`` below. Every output image is read back from ``build/``.

What is printed (one row per photo; ``OUT/results.json`` has every number)
--------------------------------------------------------------------------
* ``kind``: alpha, mask, cutout or scene with its confidence, and ``found``: the silhouette's
  confidence (the matte of a cut-out, the garment of a scene), both as the build's
  ``mockups inspect`` overlay records them (``mockups.review.inspect``); ``on`` is the fraction
  of the print area on the silhouette.
* ``prep``: seconds of one product preparation (``Compositor.product`` on the product's first
  job, in this process: decoding, matte or garment segmentation, dye mask, recolour
  preparation). ``build``: the wall time of the whole build (``mockups.build``: planning, every
  variant in the worker processes, which prepare the product themselves, contact sheet,
  overlay, gallery).
* ``dE n/f/c/w/b``: per colour, the median CIEDE2000 (:func:`mockups.imaging.ciede2000` on
  :func:`mockups.imaging.srgb_to_lab`) between the output's garment pixels and the target
  colour, on mid-tones only: pixels whose *source* L* lies between the 25th and 75th percentile
  of the garment's, away from the print area (dilated by 8 px, as the design may be displaced
  along the folds) and inside the garment's edge (a scene's: by 6 px at the photo's scale; a
  cut-out's: 3 px inside the opaque part of its silhouette). Target < 3. The recolour
  renders the garment's median as the target and keeps folds relative to it, so mid-tones are
  where the target colour should be met. The garment is: in an annotated scene the annotation's
  polygon; in another scene the garment the compositor found; on a cut-out or alpha photo the
  compositor's dyeable area (its recolour preparation), mapped into the output canvas.
* Scenes: ``out``: the median CIEDE2000 between the output and the source photo outside the
  garment, leaving out a band of 6 px (at the photo's scale) either side of its edge, with the
  share of those pixels over 3 (target: median < 1; what the recolour changed that is not the
  garment: sleeves, skin, background). The source is resampled to the output's size with
  :func:`mockups.imaging.frame`, the same call that frames the output, so resampling alone
  differs by nothing. For an annotated scene the garment is the annotation's polygon and
  ``IoU`` compares the compositor's garment (its silhouette >= 0.5, from the same
  ``Compositor.product`` call, i.e. :func:`mockups.imaging.analyse_photo` seeded with the print
  area) with it; for the other scenes ``out*`` is measured outside the garment the compositor
  found (a check that nothing else changed, not an accuracy figure).
* Cut-outs: ``halo m/g``: the halo measure of ``benchmarks/eval_segmentation.py`` (its
  :func:`halo`, imported) on the outputs: from the output on magenta and the output on dark
  green the alpha and colours of the placed product are recovered exactly (two known solid
  backgrounds: ``O = a * F + (1 - a) * B``, solved per pixel by least squares over the
  channels); the composites of those on magenta and on green are compared, in a band 3 px
  either side of the 0.5 contour of the alpha, with the composites of the product colour bled
  outward from a ring 6-12 px inside (mean CIE76 after a 1.5 px blur: old backdrop or lost
  product showing at the edge). The worst colour of the five is printed; ``in`` is the same
  deviation measured on the inside ring itself, the floor that the texture alone gives.
  ``loop``: for the tote, the share of the backdrop enclosed by the handle loops (``LOOPS``)
  that is transparent (recovered alpha < 0.5) in the output: 1.0 means the hole is cut.
* Photos with alpha: the kind and ``dE`` only.

Source-space masks (dye area, print area, loop) are brought into the output canvas by matching
the bounding box of the product's silhouette (alpha >= 8, as the compositor crops it) with that
of the recovered alpha; ``results.json`` records how well the mapped silhouette and the
recovered alpha agree (``align_iou``).

How the annotations were made
-----------------------------
``benchmarks/annotations/NAME.json`` (only ``tshirt-gray-raglan-worn.json`` so far): polygons
read by eye off 50-px labelled grid crops of the photo, in original pixels; ``garment`` is the
grey body panel the print goes on (the black raglan sleeves and collar are another panel),
``print_quad`` a chest rectangle inside it; its ``how`` and ``print_quad_how`` keys say more.
``PRINTS`` (print areas of the other photos) and ``LOOPS`` (the tote's enclosed backdrop) were
read by eye off the photos with a 100-px grid drawn on them (the tote's handles off a 2x zoom
with a 25-px grid); each print area covers the product's chest, front panel or body where a
design would go, over the print the photo already carries when it has one.

Also written: ``OUT/contact-sheet.png`` (per photo: the source, then the outputs in the five
colours, on magenta for cut-outs, plus white and black on dark green).

``--bench`` needs no photos: it times every imaging operation on synthetic 1024x1024 inputs and
prints the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_segmentation import halo, iou, polygon_mask  # noqa: E402

import mockups  # noqa: E402
from mockups import imaging as im  # noqa: E402
from mockups.imaging._ops import dilate, erode  # noqa: E402

DEFAULT_EVAL_DIR = Path("/work/shared/eval-images")
ANNOTATIONS = Path(__file__).resolve().parent / "annotations"
COLOURS = {"navy": "#1F2A44", "forest": "#2E6B3A", "cherry": "#B22234", "white": "#F4F4F2", "black": "#1B1B1D"}
BACKGROUNDS = {"magenta": "#FF00FF", "darkgreen": "#0B3D0B"}
BAND = 6  # px at the photo's scale: the band at the garment's edge left out of the measures
PRINT_MARGIN = 8  # px the print area is dilated by when it is left out (the design follows the folds)
HALO_MARGIN = 48  # px around the product's box kept for the halo measure (its widest blur: sigma 6)


def rect(x: float, y: float, w: float, h: float) -> list[list[float]]:
    return [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]


FOX, WORDMARK, SYLIUS, MPL, CUP = ("noto-fox-face-512.png", "solidus-wordmark-2000w.png", "sylius-logo-600x176.png",
                                   "matplotlib-logo2-542x130.png", "noto-hot-beverage-512.png")
# photo -> (print area corners in photo pixels, design), read by eye off the photo with a 100-px grid.
PRINTS: dict[str, tuple[list[list[float]], str]] = {
    "beanie-black-alpha.png": (rect(520, 640, 380, 180), SYLIUS),  # on the cuff, over the woven label
    "beanie-white-worn-outdoor.jpg": (rect(330, 450, 320, 250), FOX),  # on the cable knit, left of the pom-pom
    "bottles-white-alpha.png": (rect(810, 560, 150, 200), FOX),  # the right bottle's body, over its logo
    "cap-black-threequarter-alpha.png": (rect(690, 480, 200, 210), FOX),  # front panel, over the logo
    "cap-gray-front-alpha.png": (rect(560, 470, 240, 240), FOX),  # front panel, over the logo
    "cap-red-back-alpha.png": (rect(560, 460, 280, 220), FOX),  # the crown's side panel
    "cap-snapback-black-blue-white-bg.jpg": (rect(480, 460, 240, 240), FOX),  # front panel, over the logo
    "cup-coffee-topdown-skimage.png": (rect(100, 190, 75, 100), FOX),  # the saucer's flat, left of the cup
    "hoodie-black-front-alpha.png": (rect(560, 585, 360, 180), WORDMARK),  # chest, below the drawstrings
    "hoodie-blue-zip-front.jpg": (rect(650, 480, 230, 160), SYLIUS),  # left chest, over the wordmark
    "hoodie-gray-zip-front.jpg": (rect(660, 470, 200, 170), FOX),  # left chest, over the patch
    "hoodie-red-front-alpha.png": (rect(540, 555, 300, 185), FOX),  # chest, between strings and pocket
    "hoodie-red-front-print.jpg": (rect(490, 460, 250, 240), FOX),  # over the round print
    "hoodie-red-worn-crop-alpha.png": (rect(720, 170, 200, 180), FOX),  # chest, over the logo
    "longsleeve-red-front-alpha.png": (rect(540, 300, 290, 290), FOX),  # chest, over the big logo
    "mug-black-print-white-bg.jpg": (rect(560, 520, 190, 270), FOX),  # the body, over the print
    "mug-red-print-white-bg.jpg": (rect(520, 540, 260, 270), CUP),  # the body, over the round print
    "mugs-red-black-stacked-alpha.png": (rect(540, 210, 230, 250), FOX),  # the red mug, over its logo
    # the cover, in its tilt, clear of the hand
    "notebook-red-in-hand-alpha.png": ([[540, 312], [791, 211], [917, 588], [666, 688]], FOX),
    "phone-back-black-on-yellow.jpg": (rect(520, 420, 240, 140), SYLIUS),  # the back, below the logo
    "sticker-round-alpha.png": (rect(480, 330, 420, 360), FOX),  # the middle, over the logo
    "tote-natural-canvas-print.jpg": (rect(380, 600, 440, 240), MPL),  # the bag, over the wordmark
    "tote-red-canvas-alpha.png": (rect(420, 420, 480, 400), FOX),  # the bag, between logo and lettering
    "tote-red-carried-alpha.png": (rect(560, 300, 420, 420), FOX),  # the bag, over the big logo
    "tshirt-black-back-plain.jpg": (rect(440, 330, 330, 380), FOX),  # upper back, below the neck print
    "tshirt-black-folded-alpha.png": (rect(620, 420, 180, 130), FOX),  # the folded front, over the logo
    "tshirt-black-front-alpha.png": (rect(520, 290, 330, 330), FOX),  # chest, over the tone-on-tone print
    "tshirt-blue-back-plain.jpg": (rect(450, 320, 320, 360), FOX),  # upper back, below the neck print
    "tshirt-white-back-plain.jpg": (rect(445, 330, 320, 360), FOX),  # upper back, below the neck print
    "tshirt-white-front-print.jpg": (rect(470, 380, 260, 300), FOX),  # chest, over the print
    "tshirt-womens-white-front-print.jpg": (rect(400, 400, 400, 160), WORDMARK),  # chest, over the wordmark
}
DEFAULT_DESIGN = FOX
# Backdrop enclosed by handle loops, (x0, y0, x1, y1) in photo pixels. The tote: read off a 2x zoom
# of its handles (x 300-950, y 60-480) with a 25-px grid: the white backdrop under the front
# strap's arch, right of its left leg (x ~500) and left of its diagonal right leg (x ~640 at
# y 235, ~730 at y 435), above the bag's top hem (y ~445); it includes some of the handle's soft
# shadow on the backdrop, which is backdrop too. The small gaps between the crossing straps are
# left out.
LOOPS: dict[str, list[tuple[int, int, int, int]]] = {
    "tote-natural-canvas-print.jpg": [(510, 235, 620, 435)],
}


# --- projects: write, build, read back ----------------------------------------------------------

def load_annotation(name: str) -> dict | None:
    path = ANNOTATIONS / f"{Path(name).stem}.json"
    return json.loads(path.read_text()) if path.exists() else None


def scene_size(photo_size: tuple[int, int], size: int) -> tuple[int, int]:
    """A canvas with the photo's aspect: its long side `size` (a smaller photo keeps its own size)."""
    w, h = photo_size
    if max(w, h) <= size:
        return w, h
    s = size / max(w, h)
    return max(16, round(w * s)), max(16, round(h * s))


def write_project(photo: Path, folder: Path, root: Path, size: int) -> dict:
    """OUT/projects/NAME/: the photo and its design in assets/, and a one-product catalog.yaml."""
    if root.exists():
        shutil.rmtree(root)
    (root / "assets").mkdir(parents=True)
    shutil.copy2(photo, root / "assets" / photo.name)
    annotation = load_annotation(photo.name)
    quad, design = PRINTS.get(photo.name, (None, DEFAULT_DESIGN))
    if annotation and annotation.get("print_quad"):
        quad = annotation["print_quad"]
    shutil.copy2(folder / "logos" / design, root / "assets" / design)
    opened = im.open_image(photo)
    kind, _, _ = im.photo_kind(opened)  # the pipeline's own (cheap) decision, to shape the channel
    if kind == "scene":
        w, h = scene_size(opened.size, size)
        channel = f"  - {{id: eval, size: {w}x{h}, format: png}}"
    else:
        w, h = size, size
        channel = f"  - {{id: eval, size: {size}x{size}, format: png, shadow: false}}"
    lines = ["version: 1", "defaults: {backend: local}", "channels:", channel, "products:",
             f"  - sku: {photo.stem}", f"    name: {photo.stem}", f"    image: assets/{photo.name}",
             "    designs: [logo]"]
    if quad is not None:
        lines.append(f"    print_area: {json.dumps([[float(x), float(y)] for x, y in quad])}")
    lines.append("colours:")
    lines += [f'  - {{id: {cid}, name: {cid.title()}, hex: "{hex_}"}}' for cid, hex_ in COLOURS.items()]
    lines.append("backgrounds:")
    lines += [f'  - {{id: {bid}, name: {bid.title()}, colour: "{hex_}"}}' for bid, hex_ in BACKGROUNDS.items()]
    lines += ["designs:", f"  - {{id: logo, name: Logo, image: assets/{design}}}"]
    (root / "catalog.yaml").write_text("\n".join(lines) + "\n")
    return {"catalog": root / "catalog.yaml", "quad": quad, "design": design, "annotation": annotation,
            "canvas": (w, h), "guess": kind}


def build_project(project: dict, jobs: int | None) -> dict:
    """Build the project as `mockups build` does; read back what it made and what it found."""
    from mockups.review.inspect import FOLDER, inspect_products

    start = time.perf_counter()
    report = mockups.build(project["catalog"], jobs=jobs)
    wall = time.perf_counter() - start
    prepared = report.prepared
    outputs = {}
    for job in prepared.jobs:
        path = prepared.build_dir / job.variant.output
        if path.exists():
            outputs[(job.variant.colour.id, job.variant.background.id)] = np.asarray(
                Image.open(path).convert("RGB"))
    catalog = prepared.catalog
    found = inspect_products(catalog, folder=prepared.build_dir / FOLDER)[0]  # the build's overlay: up to date
    start = time.perf_counter()
    product = prepared.backend.compositor.product(prepared.jobs[0])  # one preparation, as a worker makes it
    prep = time.perf_counter() - start
    return {"wall": wall, "prep": prep, "outputs": outputs, "inspection": found, "product": product,
            "failures": [f"{o.job.id}: {o.error}" for o in report.failures],
            "warnings": [str(w) for w in report.warnings] + [str(p) for p in prepared.warnings],
            "build_dir": prepared.build_dir}


# --- measures ------------------------------------------------------------------------------------

def lab(rgb: np.ndarray) -> np.ndarray:
    return im.srgb_to_lab(rgb).astype(np.float64)


def de_target(out_rgb: np.ndarray, select: np.ndarray, hex_: str) -> float | None:
    if not select.any():
        return None
    return round(float(np.median(im.ciede2000(lab(out_rgb[select]), im.hex_to_lab(hex_)))), 2)


def quad_mask(quad, shape: tuple[int, int]) -> np.ndarray:
    return polygon_mask([np.rint(np.asarray(quad, np.float64))], shape) if quad is not None \
        else np.zeros(shape, bool)


def framed(mask: np.ndarray, canvas: tuple[int, int]) -> np.ndarray:
    """A source-space mask (bool or [0, 1]) as the scene's output frames the photo (float [0, 1])."""
    u8 = np.clip(np.rint(np.asarray(mask, np.float32) * 255), 0, 255).astype(np.uint8)
    return np.asarray(im.frame(Image.fromarray(u8, "L").convert("RGB"), canvas))[..., 0].astype(np.float32) / 255


def measure_scene(photo: Path, project: dict, built: dict) -> dict:
    canvas = project["canvas"]
    source = im.open_image(photo).convert("RGB")
    src = np.asarray(source)
    reference = np.asarray(im.frame(source, canvas))  # the photo resampled as the output is
    ref_lab = lab(reference)
    product = built["product"]
    garment_img = getattr(product, "garment", None)
    found = (np.asarray(garment_img.getchannel("A")) >= 128) if garment_img is not None \
        else np.zeros(src.shape[:2], bool)
    annotation = project["annotation"]
    row: dict = {}
    if annotation:
        truth = polygon_mask(annotation["garment"], src.shape[:2])
        row["iou"] = iou(found, truth)
        row["garment_from"] = "annotation"
    else:
        truth = found
        row["garment_from"] = "found"
    outside = framed(~dilate(truth, BAND), canvas) >= 0.995
    core = framed(erode(truth, BAND) & ~dilate(quad_mask(project["quad"], src.shape[:2]), PRINT_MARGIN),
                  canvas) >= 0.995
    if core.any():
        lo, hi = np.percentile(ref_lab[..., 0][core], [25, 75])
        mid = core & (ref_lab[..., 0] >= lo) & (ref_lab[..., 0] <= hi)
    else:
        mid = core
    per = {}
    for cid, hex_ in COLOURS.items():
        out = built["outputs"].get((cid, "as-shot"))
        if out is None or out.shape != reference.shape:
            continue
        diff = im.ciede2000(lab(out), ref_lab)[outside]
        per[cid] = {"outside_median": round(float(np.median(diff)), 3) if diff.size else None,
                    "outside_over3": round(float(np.mean(diff > 3)), 4) if diff.size else None,
                    "outside_p99": round(float(np.percentile(diff, 99)), 2) if diff.size else None,
                    "garment_de": de_target(out, mid, hex_)}
    row["colours"] = per
    row["midtone_pixels"] = int(mid.sum())
    return row


def recover(on_a: np.ndarray, on_b: np.ndarray, a_hex: str, b_hex: str) -> tuple[np.ndarray, np.ndarray]:
    """Alpha and straight colours (float [0, 1]) of what lies over two known solid backgrounds."""
    o1, o2 = on_a.astype(np.float32) / 255, on_b.astype(np.float32) / 255
    b1 = np.asarray(im.parse_hex(a_hex), np.float32) / 255
    b2 = np.asarray(im.parse_hex(b_hex), np.float32) / 255
    db = b1 - b2
    clear = np.clip(((o1 - o2) @ db) / float(db @ db), 0.0, 1.0)  # 1 - alpha
    alpha = 1.0 - clear
    fg = (o1 - clear[..., None] * b1) / np.maximum(alpha, 1e-3)[..., None]
    fg[alpha <= 1e-3] = 0.0
    return alpha.astype(np.float32), np.clip(fg, 0, 1).astype(np.float32)


def bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def to_canvas(arr: np.ndarray, src_box, out_box, shape: tuple[int, int]) -> np.ndarray:
    """A source-space array (float) moved into the output canvas by matching the two boxes."""
    x0, y0, x1, y1 = src_box
    X0, Y0, X1, Y1 = out_box
    out = np.zeros(shape, np.float32)
    crop = np.ascontiguousarray(arr[y0:y1, x0:x1], np.float32)
    out[Y0:Y1, X0:X1] = cv2.resize(crop, (X1 - X0, Y1 - Y0), interpolation=cv2.INTER_AREA)
    return out


def dye_mask(product, shape: tuple[int, int]) -> np.ndarray:
    """The compositor's dyeable area (float [0, 1]) from its recolour preparation."""
    out = np.zeros(shape, np.float32)
    prep = getattr(product, "recolour", None)
    if prep is None:
        return out
    y0, y1, x0, x1 = prep.box
    crop = out[y0:y1, x0:x1]
    crop[prep.select] = prep.weight
    return out


def measure_placed(photo: Path, project: dict, built: dict, with_halo: bool) -> dict:
    """Cut-outs and alpha photos: recovered alpha, halo, mid-tone ΔE, the tote's loop."""
    outputs = built["outputs"]
    product = built["product"]
    src_alpha = np.asarray(product.rgba.getchannel("A")).astype(np.float32) / 255
    shape = src_alpha.shape
    src_box = bbox(src_alpha >= 8 / 255)
    src_l = lab(np.asarray(im.open_image(photo).convert("RGB")))[..., 0]
    dye = dye_mask(product, shape)
    solid = erode(src_alpha >= 250 / 255, 3)
    sel = (dye >= 0.95) & solid & ~dilate(quad_mask(project["quad"], shape), PRINT_MARGIN)
    if sel.any():
        lo, hi = np.percentile(src_l[sel], [25, 75])
        mid_src = sel & (src_l >= lo) & (src_l <= hi)
    else:
        mid_src = sel
    row: dict = {"colours": {}}
    loops_src = np.zeros(shape, bool)
    for x0, y0, x1, y1 in LOOPS.get(photo.name, []):
        loops_src[y0:y1, x0:x1] = True
    geometry = None  # the silhouette is the same in every colour: mapped once
    for cid, hex_ in COLOURS.items():
        on_m, on_g = outputs.get((cid, "magenta")), outputs.get((cid, "darkgreen"))
        if on_m is None or on_g is None or src_box is None:
            continue
        if geometry is None or with_halo:
            alpha, fg = recover(on_m, on_g, BACKGROUNDS["magenta"], BACKGROUNDS["darkgreen"])
        if geometry is None:
            out_box = bbox(alpha > 0.02)
            if out_box is None:
                break
            mapped = to_canvas(src_alpha, src_box, out_box, alpha.shape)
            mid = (to_canvas(mid_src, src_box, out_box, alpha.shape) >= 0.999) & (alpha >= 0.99)
            inside = to_canvas(loops_src.astype(np.float32), src_box, out_box, alpha.shape) >= 0.999
            geometry = {"align_iou": iou(mapped >= 0.5, alpha >= 0.5), "midtone_pixels": int(mid.sum())}
            if inside.any():
                geometry["loop_clear"] = round(float(np.mean(alpha[inside] < 0.5)), 4)
                geometry["loop_mean_alpha"] = round(float(np.mean(alpha[inside])), 4)
            row.update(geometry)
        entry: dict = {"garment_de": de_target(on_m, mid, hex_)}
        if with_halo:  # on the product's box and a margin wider than the measure's blurs: the same figures
            X0, Y0, X1, Y1 = out_box
            h, w = alpha.shape
            crop = (slice(max(0, Y0 - HALO_MARGIN), min(h, Y1 + HALO_MARGIN)),
                    slice(max(0, X0 - HALO_MARGIN), min(w, X1 + HALO_MARGIN)))
            entry.update(halo(fg[crop], fg[crop], alpha[crop]))
        row["colours"][cid] = entry
    if loops_src.any():
        row["loop_source_L_median"] = round(float(np.median(src_l[loops_src])), 1)
    return row


# --- the table, the sheet ------------------------------------------------------------------------

def _f(v, fmt: str = ".1f") -> str:
    return "-" if v is None else format(v, fmt)


def row_text(r: dict) -> str:
    cols = r.get("colours", {})
    head = (f"{r['photo']:38s} {r['kind']:6s} {r['kind_confidence']:.2f}  found {r['confidence']:.2f}"
            f" on {_f(r.get('on_product'), '.2f'):>4s}  prep {r['prep_seconds']:5.2f}s"
            f" build {r['build_seconds']:5.2f}s")
    de = "/".join(_f(cols.get(c, {}).get("garment_de")) for c in COLOURS)
    parts = [f"dE n/f/c/w/b {de}"]
    if r["kind"] == "scene":
        worst_med = max((c["outside_median"] for c in cols.values() if c["outside_median"] is not None), default=None)
        worst_over = max((c["outside_over3"] for c in cols.values() if c["outside_over3"] is not None), default=None)
        star = "" if r.get("garment_from") == "annotation" else "*"
        over = None if worst_over is None else 100 * worst_over
        parts.insert(0, f"out{star} {_f(worst_med, '.2f')} (>3 {_f(over)}%)")
        if "iou" in r:
            parts.append(f"IoU {r['iou']:.3f}")
    elif r["kind"] in ("cutout", "mask"):
        hm = max((c.get("halo_magenta", 0) for c in cols.values()), default=None)
        hg = max((c.get("halo_green", 0) for c in cols.values()), default=None)
        inside = max((c.get("inside", 0) for c in cols.values()), default=None)
        parts.insert(0, f"halo m/g {_f(hm)}/{_f(hg)} in {_f(inside)}")
        if r.get("loop_clear") is not None:
            parts.append(f"loop {r['loop_clear']:.2f}")
    if r.get("failures"):
        parts.append(f"{len(r['failures'])} FAILED")
    return head + " | " + " | ".join(parts)


def tile(arr: np.ndarray, size: int) -> Image.Image:
    img = Image.fromarray(arr) if isinstance(arr, np.ndarray) else arr
    img = img.convert("RGB")
    img.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = Image.new("RGB", (size, size), (128, 128, 128))
    out.paste(img, ((size - img.width) // 2, (size - img.height) // 2))
    return out


def sheet_row(photo: Path, built: dict, label: str, size: int = 180) -> Image.Image:
    outputs = built["outputs"]
    picks = [(c, "as-shot") for c in COLOURS] if any(k[1] == "as-shot" for k in outputs) else \
        [(c, "magenta") for c in COLOURS] + [("white", "darkgreen"), ("black", "darkgreen")]
    src = im.open_image(photo)
    flat = Image.new("RGBA", src.size, (255, 255, 255, 255))
    tiles = [tile(np.asarray(Image.alpha_composite(flat, src).convert("RGB")), size)]
    tiles += [tile(outputs[k], size) for k in picks if k in outputs]
    row = Image.new("RGB", (8 * size, size + 18), (255, 255, 255))
    for i, t in enumerate(tiles):
        row.paste(t, (i * size, 18))
    ImageDraw.Draw(row).text((4, 3), label, fill=(20, 20, 20))
    return row


def evaluate(photo: Path, folder: Path, out: Path, size: int, jobs: int | None) -> tuple[dict, Image.Image]:
    project = write_project(photo, folder, out / "projects" / photo.stem, size)
    built = build_project(project, jobs)
    found = built["inspection"]
    row = {"photo": photo.name, "kind": found.kind, "kind_confidence": found.kind_confidence,
           "confidence": found.confidence, "on_product": found.on_product, "guessed_kind": project["guess"],
           "prep_seconds": round(built["prep"], 2), "build_seconds": round(built["wall"], 2),
           "canvas": list(project["canvas"]), "design": project["design"], "print_area": project["quad"],
           "failures": built["failures"], "warnings": built["warnings"] + list(found.warnings),
           "outputs": str(built["build_dir"])}
    if found.kind == "scene":
        row.update(measure_scene(photo, project, built))
    else:
        row.update(measure_placed(photo, project, built, with_halo=found.kind in ("cutout", "mask")))
    label = f"{photo.name}  {found.kind} {found.kind_confidence:.2f}  found {found.confidence:.2f}"
    return row, sheet_row(photo, built, label)


# --- the old per-operation benchmark (--bench) ---------------------------------------------------

class Timer:
    """Collects wall-clock durations per operation name."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}

    def run(self, name: str, fn, *args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        self.samples.setdefault(name, []).append(time.perf_counter() - start)
        return result

    def report(self) -> str:
        rows = [f"{name:<20} median {1000 * statistics.median(v):7.1f} ms   min {1000 * min(v):7.1f} ms"
                f"   (n={len(v)})" for name, v in self.samples.items()]
        return "\n".join(rows)


def _synthetic_product(size: int) -> Image.Image:
    """A dark mug-like product with a handle on a white backdrop (opaque RGB)."""
    img = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    s = size / 1024
    draw.ellipse((170 * s, 330 * s, 470 * s, 640 * s), fill=(40, 60, 140))
    draw.ellipse((240 * s, 400 * s, 400 * s, 570 * s), fill=(255, 255, 255))
    draw.rectangle((350 * s, 220 * s, 820 * s, 820 * s), fill=(40, 60, 140))
    noise = np.random.default_rng(0).normal(0, 2.0, (size, size, 3))
    return Image.fromarray(np.clip(np.asarray(img) + noise, 0, 255).astype(np.uint8)).convert("RGBA")


def _synthetic_garment(size: int) -> tuple[Image.Image, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    mask = (np.abs(xx - size / 2) < size * 0.3) & (yy > size * 0.15) & (yy < size * 0.9)
    shade = 225 * (1 + 0.15 * np.sin(xx / 23.0) * np.cos(yy / 41.0))
    arr = np.zeros((size, size, 4), np.uint8)
    arr[..., :3] = np.clip(shade, 0, 255)[..., None].astype(np.uint8)
    arr[..., 3] = np.where(mask, 255, 0)
    return Image.fromarray(arr, "RGBA"), mask


def bench(repeat: int, size: int = 1024) -> str:
    """Median wall time of every operation on synthetic ``size`` x ``size`` inputs."""
    timer = Timer()
    photo = _synthetic_product(size)
    garment, mask = _synthetic_garment(size)
    logo = Image.new("RGBA", (512, 512), (0, 0, 0, 0))
    ImageDraw.Draw(logo).ellipse((20, 20, 492, 492), fill=(240, 120, 20, 255))
    corners = im.rect_to_corners(size * 0.3, size * 0.25, size * 0.4, size * 0.4)
    png = io.BytesIO()
    photo.save(png, "PNG")
    for _ in range(repeat):
        timer.run("open_image (png)", im.open_image, png.getvalue())
        alpha, _ = timer.run("auto_cutout", im.auto_cutout, photo)
        cut = timer.run("apply_alpha", im.apply_alpha, photo, alpha, backdrop=(255, 255, 255))
        dye = timer.run("estimate_dye_mask", im.estimate_dye_mask, garment)
        prep = timer.run("prepare_recolour", im.prepare_recolour, garment, mask)
        dyed = timer.run("recolour", im.recolour, prep, garment, "#1F2A44")
        printed = timer.run("place_design", im.place_design, dyed, logo, corners)
        for kind, spec in (("solid", {"colour": "#FFFFFF"}), ("linear", {"stops": ["#FFFFFF", "#CCCCCC"]}),
                           ("radial", {}), ("studio", {}), ("image", {"image": photo})):
            bg = timer.run(f"background {kind}", im.make_background, kind, (size, size), **spec)
        timer.run("contact_shadow", im.contact_shadow, alpha)
        canvas = timer.run("compose", im.compose, cut, bg, (size, size))
        timer.run("compose (no shadow)", im.compose, printed, bg, (size, size), shadow=False)
        timer.run("draw_text (badge)", im.draw_text, canvas, "$24.00", size_px=48, badge=True)
        for fmt in ("png", "jpeg", "webp"):
            timer.run(f"encode {fmt}", im.encode, canvas, fmt, metadata={"sku": "BENCH"})
        timer.run("thumbnail", im.thumbnail, canvas)
    del dye
    return timer.report()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", help="folder with products/ and logos/")
    parser.add_argument("out", type=Path, nargs="?", help="where the projects, results.json and the sheet go")
    parser.add_argument("--only", nargs="+", default=None, help="photo file names (or stems) to run")
    parser.add_argument("--size", type=int, default=1024, help="channel size (scenes: the long side)")
    parser.add_argument("--jobs", type=int, default=None, help="build workers (default: the backend's choice)")
    parser.add_argument("--bench", action="store_true", help="time every operation on synthetic inputs")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    if args.bench:
        print(bench(args.repeat, args.size))
        return 0
    if args.folder is None or args.out is None:
        parser.error("FOLDER and OUT are required unless --bench is given")
    if not (args.folder / "products").is_dir():
        print(f"evaluation photos not found at {args.folder / 'products'}; nothing to do")
        return 0
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    photos = sorted(p for p in (args.folder / "products").iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if args.only:
        photos = [p for p in photos if p.name in args.only or p.stem in args.only]
    rows, sheet_rows = [], []
    for photo in photos:
        row, strip = evaluate(photo, args.folder, args.out.resolve(), args.size, args.jobs)
        rows.append(row)
        sheet_rows.append(strip)
        print(row_text(row), flush=True)
        for failure in row["failures"]:
            print(f"    failed: {failure}", flush=True)
    total = time.perf_counter() - started
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(u.ru_utime + u.ru_stime for u in usage)  # this process and the builds' worker processes
    (args.out / "results.json").write_text(json.dumps({"seconds": round(total, 1), "cpu_seconds": round(cpu, 1),
                                                       "size": args.size,
                                                       "colours": COLOURS, "rows": rows}, indent=1, default=str))
    if sheet_rows:
        sheet = Image.new("RGB", (sheet_rows[0].width, sum(r.height for r in sheet_rows)), (255, 255, 255))
        y = 0
        for strip in sheet_rows:
            sheet.paste(strip, (0, y))
            y += strip.height
        sheet.save(args.out / "contact-sheet.png")
    print(f"{len(rows)} photos in {total:.1f} s ({cpu:.0f} CPU-seconds with the build workers); "
          f"results.json and contact-sheet.png in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
